-- 40% list, 40% get, 7.5% create, 7.5% patch, 5% delete. Deletes remove
-- tasks this thread created (ids read from the 201 bodies), so the seeded
-- tasks that list/get/patch use stay; with none yet, a delete turns into a create.
local c = require "common"
setup, init, done = c.setup, c.init, c.done
local created = {}  -- { user, id }
local body = '{"title":"mixed create","priority":"low"}'

function request()
  local r = math.random() * 100
  if r < 40 then
    return wrk.format("GET", "/api/tasks", c.headers(math.random(#c.auth)))
  elseif r < 80 then
    local u, id = c.pick()
    return wrk.format("GET", "/api/tasks/" .. id, c.headers(u))
  elseif r < 87.5 then
    return wrk.format("POST", "/api/tasks", c.headers(math.random(#c.auth), true), body)
  elseif r < 95 then
    local u, id = c.pick()
    return wrk.format("PATCH", "/api/tasks/" .. id, c.headers(u, true), '{"priority":"medium"}')
  end
  local victim = table.remove(created)
  if victim == nil then
    return wrk.format("POST", "/api/tasks", c.headers(math.random(#c.auth), true), body)
  end
  return wrk.format("DELETE", "/api/tasks/" .. victim[2], c.headers(victim[1]))
end

-- The user of a created task is not in the response; find it by its token's
-- position: creates are attributed by matching the "user_id" field.
local user_index = {}
for i = 1, #c.auth do user_index["bench-user-" .. (i - 1)] = i end

function response(status, headers, resp)
  if status == 201 then
    local id = resp:match('"id":"([^"]+)"')
    local user = resp:match('"user_id":"([^"]+)"')
    if id and user and user_index[user] then created[#created + 1] = { user_index[user], id } end
  end
end
