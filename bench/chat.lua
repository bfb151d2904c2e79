-- wrk script: POST an OpenAI chat completion with the inbound key.
-- BENCH_KEY is the API key (sent as "Authorization: Bearer ..."); BENCH_STREAM=1 asks for SSE;
-- BENCH_CONTENT replaces the user message (plain ASCII, no quotes or backslashes);
-- BENCH_API=converse sends an AWS Bedrock Converse body instead.
-- done() prints one JSON line the harness parses (latencies in microseconds).

local stream = os.getenv("BENCH_STREAM") == "1"
local key = os.getenv("BENCH_KEY") or "none"
local content = os.getenv("BENCH_CONTENT") or "Say hello to the benchmark."

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key
if os.getenv("BENCH_API") == "converse" then
  wrk.body = '{"messages":[{"role":"user","content":[{"text":"' .. content .. '"}]}]}'
else
  wrk.body = '{"model":"bench-model","messages":[{"role":"user","content":"' .. content .. '"}]'
    .. (stream and ',"stream":true' or '') .. '}'
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"mean_us":%.1f,"max_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"non_2xx":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max, e.connect, e.read, e.write, e.timeout, e.status))
end
