-- GET /api/tasks without a token: the 401 path (every answer is non-2xx by design).
local c = require "common"
setup, init, done = c.setup, c.init, c.done
function request()
  return wrk.format("GET", "/api/tasks")
end
