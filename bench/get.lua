-- GET /api/tasks/{id}: one of the user's own tasks.
local c = require "common"
setup, init, done = c.setup, c.init, c.done
function request()
  local u, id = c.pick()
  return wrk.format("GET", "/api/tasks/" .. id, c.headers(u))
end
