-- wrk -s proxy.lua http://PROXY -- TARGET HOST [close]
--
-- Sends "GET TARGET" to PROXY, where TARGET is an absolute-form URL
-- (http://origin/path), as a client of a forward proxy does, with "Host: HOST"
-- (the origin's). For the origin itself, TARGET is a plain path. "close" adds
-- "Connection: close", so each request has a connection of its own. At the
-- end it prints one line of JSON for bench.py.
--
-- The request is set up once in init(), and there is no request() function:
-- wrk then builds it once per thread instead of once per request.

function init(args)
   wrk.path = args[1]
   wrk.headers["Host"] = args[2]
   if args[3] == "close" then
      wrk.headers["Connection"] = "close"
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      '{"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p99_us": %d, ' ..
      '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50.0), latency:percentile(99.0),
      e.connect, e.read, e.write, e.status, e.timeout))
end
