-- POST /api/tasks with an Idempotency-Key that is new on every request: what
-- a client pays for safe retries (the key is claimed and the response stored
-- in the database). Otherwise the same request as create.lua.
local c = require "common"
setup, init = c.setup, c.init
local body = '{"title":"created by wrk","description":"bench/create.lua","priority":"high","tags":["bench"]}'
local n = 0
local prefix
function init(args)
  c.init(args)
  prefix = string.format("%x-%x", os.time(), math.random(0, 0x7fffffff))
end
function request()
  n = n + 1
  local u = math.random(#c.auth)
  local h = c.headers(u, true)
  h["Idempotency-Key"] = prefix .. "-" .. n
  return wrk.format("POST", "/api/tasks", h, body)
end
done = c.done
