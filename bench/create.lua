-- POST /api/tasks: a new task for a random user.
local c = require "common"
setup, init, done = c.setup, c.init, c.done
local body = '{"title":"created by wrk","description":"bench/create.lua","priority":"high","tags":["bench"]}'
function request()
  local u = math.random(#c.auth)
  return wrk.format("POST", "/api/tasks", c.headers(u, true), body)
end
