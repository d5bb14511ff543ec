-- mix.lua - wrk script: polls with a share of writes, the way a live marketplace loads offerd.
--
--   wrk ... -s mix.lua URL -- TOKENS_TSV WRITES_TSV [WRITE_SHARE]
--
-- Each request is, with probability WRITE_SHARE (default 0.05), a write: POST /api/offers
-- {productId, amount, message} for a random unsold product with a token of a buyer who is not its
-- seller (WRITES_TSV: product id <TAB> amount <TAB> token, from bench/gen_db.py), which a correct
-- server accepts with 201 every time (a new offer each); otherwise a full GET /api/offers/{id} of a
-- random offer with its buyer's token (200). The response() hook counts statuses per thread, so
-- reads (200) and writes (201) are reported apart; that hook makes wrk copy each response into Lua,
-- which costs the load generator a little more than poll.lua does (the mixed read rate is, if
-- anything, understated). done() prints one line "BENCH_RESULT {json}".
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
    local cols = {}
    for c in line:gmatch("[^\t]+") do cols[#cols + 1] = c end
    if #cols >= 2 then rows[#rows + 1] = cols end
  end
  f:close()
  return rows
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  reads = {}
  for _, r in ipairs(read_tsv(args[1])) do
    reads[#reads + 1] = wrk.format("GET", "/api/offers/" .. r[1],
                                   { ["Authorization"] = "Bearer " .. r[2] })
  end
  writes = {}
  for _, r in ipairs(read_tsv(args[2])) do
    local body = string.format('{"productId":"%s","amount":%s,"message":"Would this do?"}',
                               r[1], r[2])
    writes[#writes + 1] = wrk.format("POST", "/api/offers",
                                     { ["Authorization"] = "Bearer " .. r[3],
                                       ["Content-Type"] = "application/json" }, body)
  end
  share = tonumber(args[3] or "0.05")
  nreads, nwrites = #reads, #writes
  assert(nreads > 0 and nwrites > 0, "no requests")
  sent_reads, sent_writes = 0, 0
  statuses = {}
end

function request()
  if math.random() < share then
    sent_writes = sent_writes + 1
    return writes[math.random(nwrites)]
  end
  sent_reads = sent_reads + 1
  return reads[math.random(nreads)]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local sr, sw, st = 0, 0, {}
  for _, t in ipairs(threads) do
    sr = sr + (t:get("sent_reads") or 0)
    sw = sw + (t:get("sent_writes") or 0)
    for k, v in pairs(t:get("statuses") or {}) do st[k] = (st[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(st) do parts[#parts + 1] = string.format('"%d":%d', k, v) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"mean":%.1f,"max":%d},' ..
    '"sent":{"reads":%d,"writes":%d},"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.mean, latency.max, sr, sw, table.concat(parts, ",")))
end
