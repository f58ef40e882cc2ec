-- Shared by the wrk scenarios: the users' tokens and task ids that
-- bench/prepare.py wrote to $BENCH_DATA, random picks, and a machine-readable
-- summary line that bench/run.sh parses.
local M = {}
local dir = os.getenv("BENCH_DATA") or "."
local kind = os.getenv("BENCH_TOKEN") or "hs"

M.auth = {}
for line in io.lines(dir .. "/tokens-" .. kind .. ".txt") do M.auth[#M.auth + 1] = "Bearer " .. line end
M.ids = {}
for line in io.lines(dir .. "/ids.txt") do
  local t = {}
  for id in line:gmatch("%S+") do t[#t + 1] = id end
  M.ids[#M.ids + 1] = t
end

local counter = 0
function M.setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function M.init()
  math.randomseed(os.time() * 1000 + (seed or 0))
end

-- A random user and one of their tasks.
function M.pick()
  local u = math.random(#M.auth)
  local ids = M.ids[u]
  return u, ids[math.random(#ids)]
end

function M.headers(u, json)
  local h = { ["Authorization"] = M.auth[u] }
  if json then h["Content-Type"] = "application/json" end
  return h
end

function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d connect=%d read=%d write=%d timeout=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), e.connect, e.read, e.write, e.timeout, e.status))
end

return M
