-- wrk: POST /api/v1/projects/bench/query, cycling through 32 fixed queries (so after the
-- warm-up every query embedding is a cache hit). Usage: wrk -s query.lua URL
local services = {"billing", "payments", "inventory", "shipping", "catalog", "search", "checkout", "accounts"}
local aspects = {"database configuration", "cache settings", "queue parameters", "logging setup"}
local bodies = {}
for _, s in ipairs(services) do
  for _, a in ipairs(aspects) do
    bodies[#bodies + 1] = string.format('{"query":"%s %s","top_k":5}', a, s)
  end
end
local i = 0
wrk.method = "POST"
wrk.path = "/api/v1/projects/bench/query"
wrk.headers["Content-Type"] = "application/json"
function request()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i % #bodies) + 1])
end
bad = 0
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
local threads = {}
function setup(thread) threads[#threads + 1] = thread end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  io.write(string.format("non200 %d\n", b))
end
