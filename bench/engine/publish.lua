-- wrk: POST /api/v1/data/publish with new content every request (NODES child objects ->
-- NODES nodes, all texts new so every node is embedded), data keys tp_<thread>_<0..49>
-- on project $PROJECT (default "bench"). Sums node_count from the responses; prints "nodes N non200 M".
local nodes_per = tonumber(os.getenv("NODES") or "10")
local project = os.getenv("PROJECT") or "bench"
local aspects = {"database", "cache", "queue", "authentication", "logging", "deployment", "ratelimit", "feature flags"}
local services = {"billing", "payments", "inventory", "shipping", "catalog", "search", "checkout", "accounts",
                  "ledger", "invoices", "refunds", "pricing", "reviews", "analytics", "audit", "gateway"}
local threads = {}
local tid = 0
function setup(thread)
  tid = tid + 1
  thread:set("tid", tid)
  threads[#threads + 1] = thread
end
local n = 0
nodes = 0
bad = 0
wrk.method = "POST"
wrk.path = "/api/v1/data/publish"
wrk.headers["Content-Type"] = "application/json"
function request()
  n = n + 1
  local parts = {}
  for j = 1, nodes_per do
    local s = services[((n + j) % #services) + 1]
    local a = aspects[(j % #aspects) + 1]
    parts[#parts + 1] = string.format('"%s_%d":{"service":"%s","aspect":"%s","host":"%s-%d-%d.internal","limit":%d}',
      s, j, s, a, s, tid, n, (n * 31 + j) % 997)
  end
  local body = string.format('{"project_id":"%s","data_key":"tp_%d_%d","data":{%s}}',
    project, tid, n % 50, table.concat(parts, ","))
  return wrk.format(nil, nil, nil, body)
end
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1; return end
  local c = string.match(body, '"node_count":(%d+)')
  if c then nodes = nodes + tonumber(c) end
end
function done(summary, latency, requests)
  local total, b = 0, 0
  for _, t in ipairs(threads) do total = total + t:get("nodes"); b = b + t:get("bad") end
  io.write(string.format("nodes %d non200 %d seconds %.3f\n", total, b, summary.duration / 1e6))
end
