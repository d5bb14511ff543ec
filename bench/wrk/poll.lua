-- poll.lua - wrk script: GET /api/offers/{id} over random offer ids, each with its own buyer's token.
--
--   wrk ... -s poll.lua URL -- TOKENS_TSV [ETAGS_TSV]
--
-- TOKENS_TSV: offer id <TAB> bearer token (bench/gen_db.py). With ETAGS_TSV (offer id <TAB> ETag,
-- from the pre-pass against the system under test) every request carries If-None-Match with that
-- offer's current ETag, so a correct server answers 304. Requests are built once per thread in
-- init(), so the per-request Lua cost is one random pick. No response() hook: wrk then does not
-- copy headers and bodies into Lua, which keeps the load generator as cheap as it can be on a
-- machine it shares with the server. done() prints one line "BENCH_RESULT {json}".
--
-- SPDX-License-Identifier: MIT

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

local function read_tsv(path)
  local rows = {}
  local f = assert(io.open(path, "r"), "cannot open " .. path)
  for line in f:lines() do
    local a, b = line:match("^([^\t]+)\t([^\t]+)")
    if a then rows[#rows + 1] = { a, b } end
  end
  f:close()
  return rows
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  local tokens = read_tsv(args[1])
  local etags = nil
  if args[2] and args[2] ~= "" then
    etags = {}
    for _, r in ipairs(read_tsv(args[2])) do etags[r[1]] = r[2] end
  end
  reqs = {}
  for _, r in ipairs(tokens) do
    local h = { ["Authorization"] = "Bearer " .. r[2] }
    if etags then h["If-None-Match"] = assert(etags[r[1]], "no ETag for " .. r[1]) end
    reqs[#reqs + 1] = wrk.format("GET", "/api/offers/" .. r[1], h)
  end
  nreqs = #reqs
  assert(nreqs > 0, "no requests")
end

function request()
  return reqs[math.random(nreqs)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"mean":%.1f,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.mean, latency.max))
end
