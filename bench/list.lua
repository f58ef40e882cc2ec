-- GET /api/tasks: one random user's whole list (50 tasks when seeded so).
local c = require "common"
setup, init, done = c.setup, c.init, c.done
function request()
  local u = math.random(#c.auth)
  return wrk.format("GET", "/api/tasks", c.headers(u))
end
