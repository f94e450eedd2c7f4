"""Stage 3: proxy, a sequential forward proxy, tested against the origin stub.

Each test starts the origin stub (kit/origin.py: content decided by the URL,
every request it receives recorded) and the proxy, sends the proxy a request
for an origin URL, and checks what came back and what the origin saw.
"""
import re
import socket
import struct
import time

from kit import proc, scripted
from kit.client import connect, exchange, parse_response, receive
from kit.expect import fail, first_difference, shell_printer, show, upstream_connection_problem
from kit.origin import body_for

PROGRAM = "proxy"

# A host name that cannot be resolved, and fails without asking a DNS server:
# its first label is longer than DNS allows (63 bytes).
UNRESOLVABLE = "a" * 64 + ".invalid"


def request_for(url, fields=(), method="GET", host=None):
    """The bytes of a proxy request for url, with Host (the URL's, unless
    given) and extra fields."""
    host = host or url.split("/")[2]
    lines = [f"{method} {url} HTTP/1.1", f"Host: {host}", *fields, "", ""]
    return "\r\n".join(lines).encode()


def by_hand(url, origin=True):
    """A shell command that shows url's case by hand; with origin, against
    the origin stub started on port 8000 (the test's own is on a random port)."""
    if origin:
        url = re.sub(r"^http://127\.0\.0\.1:\d+", "http://127.0.0.1:8000", url)
        return ("python3 ../../harness/kit/origin.py --port 8000 &  ./proxy 5000 &  "
                f"curl -v -x 127.0.0.1:5000 '{url}'")
    return f"./proxy 5000 &  curl -v -x 127.0.0.1:5000 '{url}'"


def fetch(proxy, url, what, fields=(), method="GET", host=None, **kw):
    """Ask the proxy for url; fail unless a whole response comes, then a close."""
    request = request_for(url, fields, method, host)
    reply = exchange(proxy.port, request, **kw)
    response = parse_response(reply.data)
    if response is None or reply.end != "closed":
        fail(f"{what}: no complete response from the proxy" if response is None else
             f"{what}: the proxy did not close the connection after the response",
             f"sent: {show(request)}", f"got:  {show(reply.data)}, {reply.ending()}",
             f"reproduce by hand: {by_hand(url)}")
    return response


def direct(origin, path):
    """The origin's own raw response to GET path, for comparison."""
    return exchange(origin.port, f"GET {path} HTTP/1.0\r\nHost: {origin.authority}\r\n\r\n".encode()).data


# Fields later stages add to what they relay: stage 6, the cache's verdict;
# stage 8 (which writes the head afresh), Via, and a Date where the origin
# gave none (taken out of both sides: the origin stub sends none).
ADDED = re.compile(rb"^(X-Cache: [A-Z]+|Via: [^\r\n]*|Date: [^\r\n]*)\r\n", re.M | re.I)
# Fields of one connection, which stage 8 replaces in what it relays (the
# origin says Connection: close; a kept-alive client is told keep-alive).
HOP_BY_HOP = re.compile(rb"^(Connection|Keep-Alive): [^\r\n]*\r\n", re.M | re.I)


def without_hop_by_hop(raw, pattern=HOP_BY_HOP):
    """raw with the fields pattern matches taken out of its head."""
    head_end = raw.find(b"\r\n\r\n") + 4
    return pattern.sub(b"", raw[:head_end]) + raw[head_end:]


def expect_same(what, proxied, expected, url):
    proxied = without_hop_by_hop(without_hop_by_hop(proxied), ADDED)
    expected = without_hop_by_hop(without_hop_by_hop(expected), ADDED)
    diff = first_difference(expected, proxied)
    if diff is not None:
        fail(f"{what}: the proxy's answer differs from the origin's at {diff.split(':')[0]}",
             f"expected: {show(expected)}", f"got:      {show(proxied)}",
             f"first difference at {diff}", f"reproduce by hand: {by_hand(url)}")


def check_body(proxy, origin, path, what):
    url = origin.url(path)
    r = fetch(proxy, url, what)
    expect_same(what, r.raw, direct(origin, path), url)


def test_text_body(server, origin):
    check_body(server, origin, "/text/5000", "a 5,000-byte text body")


def test_binary_body(server, origin):
    check_body(server, origin, "/bin/70000", "a binary body with every byte value")


def test_empty_body(server, origin):
    check_body(server, origin, "/text/0", "an empty body")


def test_10mib_body(server, origin):
    path = "/bin/10485760"
    r = fetch(server, origin.url(path), "a 10 MiB body", deadline=60)
    expect_same("a 10 MiB body", r.body, body_for(path), origin.url(path))


def test_query_string(server, origin):
    path = "/text/100?a=1&b=two%20words&c"
    check_body(server, origin, path, "a URL with a query string")
    seen = origin.wait_for_requests(1)[0].target
    if seen != path:
        fail(f"the origin was asked for {seen!r}, expected {path!r}")


def test_origin_errors_pass_through(server, origin):
    for path, what in (("/nothing/here", "a 404 from the origin"),
                       ("/text/30?status=500", "a 500 from the origin")):
        check_body(server, origin, path, what)


def test_request_seen_by_origin(request, server, origin):
    """The origin gets the request in origin form, HTTP/1.0 (or HTTP/1.1:
    stage 8's handout sends that; from stage 8 on, only HTTP/1.1), with Host
    from the URL (not the client's Host, which differs here), no hop-by-hop
    field, every other field in order, and Via."""
    fields = ["User-Agent: test/1.0", "Connection: keep-alive, X-Hop", "X-Hop: gone",
              "Proxy-Connection: keep-alive", "Keep-Alive: 300", "Accept: */*",
              "X-Custom: kept", "Proxy-Authorization: Basic eDp5", "Accept: again"]
    fetch(server, origin.url("/text/10?q=1"), "a request with many fields", fields,
          host="client.invalid")
    seen = origin.wait_for_requests(1)[0]
    names = [n.lower() for n, _ in seen.headers]
    problems = []
    versions = ["HTTP/1.1"] if request.config.getoption("--stage") >= 8 else ["HTTP/1.0",
                                                                              "HTTP/1.1"]
    if seen.method != "GET" or seen.target != "/text/10?q=1" or seen.version not in versions:
        problems.append(f"request line {seen.method} {seen.target} {seen.version}, expected "
                        f"GET /text/10?q=1 {' or '.join(versions)}")
    if seen.header("Host") != origin.authority or names.count("host") != 1:
        problems.append(f"Host {seen.header('Host')!r}, expected one Host: {origin.authority}")
    for hop in ("connection", "x-hop", "proxy-connection", "keep-alive", "proxy-authorization"):
        if hop in names and not (hop == "connection" and seen.header(hop) == "close"):
            problems.append(f"the hop-by-hop field {hop} was passed on")
    kept = [(n, v) for n, v in seen.headers if n.lower() in ("user-agent", "accept", "x-custom")]
    if kept != [("User-Agent", "test/1.0"), ("Accept", "*/*"), ("X-Custom", "kept"),
                ("Accept", "again")]:
        problems.append(f"end-to-end fields not passed unchanged and in order: {kept}")
    if (problem := upstream_connection_problem(seen, request.config.getoption("--stage"))):
        problems.append(problem)
    if not (seen.header("Via") or "").startswith("1.1 "):
        problems.append(f"Via {seen.header('Via')!r}, expected \"1.1 <name>\"")
    if problems:
        fail(f"what the origin received: {problems[0]}", *problems[1:],
             "the origin received:", *(f"  {n}: {v}" for n, v in seen.headers))


def test_long_fields_and_url_pass_through(server, origin):
    """A 3,000-byte field and a 2,000-byte URL reach the origin whole: no
    buffer on the way is a fixed 128 or 1,024 bytes. (The grader runs this
    against the build with AddressSanitizer, which reports a write past a
    buffer even where the plain build goes on.)"""
    path = "/text/10/" + "p" * 2000
    fields = ["X-Long: " + "v" * 3000, "X-After: kept"]
    fetch(server, origin.url(path), "a request with a 3,000-byte field and a 2,000-byte URL",
          fields)
    seen = origin.wait_for_requests(1)[0]
    problems = []
    if seen.target != path:
        problems.append(f"the origin was asked for {len(seen.target)} bytes of path, "
                        f"expected the {len(path)} of {path[:20]}...")
    if seen.header("X-Long") != "v" * 3000 or seen.header("X-After") != "kept":
        problems.append(f"X-Long came with {len(seen.header('X-Long') or '')} bytes (expected "
                        f"3000), X-After {seen.header('X-After')!r} (expected 'kept')")
    if problems:
        fail(f"what the origin received: {problems[0]}", *problems[1:],
             "build the upstream request in a buffer as big as the request can be "
             "(FORWARD_HEAD_SIZE), with snprintf, never sprintf into a small one")


def test_connection_cannot_remove_framing_or_host(server, origin):
    """A Connection field may name only hop-by-hop fields (RFC 9110 7.6.1).
    One that names Content-Length or Host removes neither: the origin gets
    the client's Content-Length and one Host, and loses only X-Hop."""
    fields = ["Connection: Content-Length, Host, X-Hop", "Content-Length: 0", "X-Hop: gone"]
    url = origin.url("/text/10/framing")
    fetch(server, url, "a request whose Connection names Content-Length and Host", fields)
    seen = origin.wait_for_requests(1)[0]
    problems = []
    if seen.header_values("Content-Length") != ["0"]:
        problems.append(f"Content-Length {seen.header_values('Content-Length')}, expected ['0']")
    if seen.header_values("Host") != [origin.authority]:
        problems.append(f"Host {seen.header_values('Host')}, expected [{origin.authority!r}]")
    if seen.header("X-Hop") is not None:
        problems.append("X-Hop, which Connection names, was passed on")
    if problems:
        fail(f"what the origin received: {problems[0]}", *problems[1:],
             "Connection never removes Content-Length, Transfer-Encoding or Host: the "
             "message is framed and routed by them (use dropped(), which knows)",
             "the origin received:", *(f"  {n}: {v}" for n, v in seen.headers),
             f"reproduce by hand: {by_hand(url)}")


def expect_error(proxy, request, status, what, repro, hint=None):
    reply = exchange(proxy.port, request)
    r = parse_response(reply.data)
    if r is None or r.status != status or "text/html" not in (r.header("Content-Type") or ""):
        fail(f"{what}: expected a {status} error page, got "
             + (f"{r.status} {r.reason}" if r else "no response"),
             f"sent: {show(request)}", f"got:  {show(reply.data)}, {reply.ending()}",
             *([hint] if hint else []), f"reproduce by hand: {repro}")


def test_requests_a_proxy_refuses(request, server, origin):
    url = origin.url("/text/10")
    cases = [
        (b"GET /text/10 HTTP/1.1\r\nHost: " + origin.authority.encode() + b"\r\n\r\n", 400,
         "a request in origin form, not meant for a proxy"),
        (b"GET / HTTP/1.1\r\n\r\n", 400, "a request the parser refuses"),
    ]
    if request.config.getoption("--stage") < 8:     # from stage 8 on, POST is forwarded
        cases.append((request_for(url, ["Content-Length: 0"], "POST"), 501,
                      "POST (bodies come in stage 8)"))
    if request.config.getoption("--stage") < 7:     # from stage 7 on, CONNECT opens tunnels
        cases.append((b"CONNECT " + origin.authority.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                      501, "CONNECT (tunnels come in stage 7)"))
    for request, status, what in cases:
        expect_error(server, request, status, what,
                     f"./proxy 5000 &  {shell_printer(request)} | nc -N 127.0.0.1 5000")
    if origin.requests:
        fail(f"the origin received {len(origin.requests)} request(s) the proxy should have refused")


def test_unresolvable_host_502(server):
    url = f"http://{UNRESOLVABLE}/"
    expect_error(server, request_for(url), 502, "a host name that does not resolve",
                 by_hand(url, origin=False))


def test_refused_port_502(server):
    with socket.socket() as s:          # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/"
    expect_error(server, request_for(url), 502, "a port where nothing listens",
                 by_hand(url, origin=False))


def test_silent_origin_504(start_program, origin):
    proxy = start_program(["{port}", "--timeout", "1"])
    url = origin.url("/text/10?fault=never")
    expect_error(proxy, request_for(url), 504, "an origin that never answers",
                 "./proxy 5000 --timeout 1 &  curl -v -x 127.0.0.1:5000 "
                 "'http://127.0.0.1:8000/text/10?fault=never'")


def test_curl_gets_the_same_bytes(server, origin):
    """curl through the proxy gets what curl gets straight from the origin."""
    url = origin.url("/bin/300000/curl")
    code_direct, straight = proc.run_output(["curl", "-s", "--noproxy", "*", url])
    code_proxy, proxied = proc.run_output(["curl", "-s", "-x", f"127.0.0.1:{server.port}",
                                           "--noproxy", "", url])
    if code_proxy != 0 or proxied != straight or code_direct != 0:
        fail("curl -x through the proxy got other bytes than curl straight from the origin",
             f"curl -x exited {code_proxy}, got {show(proxied)}",
             f"curl exited {code_direct}, got {show(straight)}",
             f"reproduce by hand: {by_hand('http://127.0.0.1:8000/bin/300000/curl')} | cmp - "
             "<(curl -s http://127.0.0.1:8000/bin/300000/curl)")


def test_client_leaves_mid_body(server, origin):
    """A client that resets the connection mid-body must not stop the proxy."""
    with connect(server.port) as s:
        s.sendall(request_for(origin.url("/bin/50000000")))
        receive(s, limit=100_000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    check_body(server, origin, "/text/100", "the next client, after one left mid-body")


def test_100mib_in_constant_memory(server, origin):
    """A 100 MiB response is relayed as it comes, never gathered whole: the
    proxy's peak memory grows by far less than the body."""
    check_body(server, origin, "/text/1000", "a small body first")
    before = proc.peak_memory_kib(server.pid)
    path = "/bin/104857600"
    with connect(server.port) as s:
        s.sendall(request_for(origin.url(path)))
        s.shutdown(socket.SHUT_WR)      # the only request: a kept-alive connection ends
        total = 0
        s.settimeout(60)
        while chunk := s.recv(1 << 20):
            total += len(chunk)
    grown = proc.peak_memory_kib(server.pid) - before
    if total < 104857600 or grown > 16 * 1024:
        fail(f"a 100 MiB body: {total} bytes came through, and the proxy's peak memory "
             f"grew by {grown} KiB", "expected: every byte, and growth under 16 MiB: relay "
             "each buffer as it arrives, never the whole body")


def receive_until(sock, done, deadline):
    """Read from sock until done(bytes so far) holds, the peer closes, or
    deadline s pass (a safety net). Returns (the bytes, how it ended: "done",
    "closed", "reset" or "timeout")."""
    data, end = b"", time.monotonic() + deadline
    while not done(data):
        left = end - time.monotonic()
        if left <= 0:
            return data, "timeout"
        sock.settimeout(left)
        try:
            chunk = sock.recv(1 << 16)
        except socket.timeout:
            return data, "timeout"
        except ConnectionResetError:
            return data, "reset"
        if not chunk:
            return data, "closed"
        data += chunk
    return data, "done"


def test_every_descriptor_closed(start_program, no_pool, origin):
    """After responses relayed whole, an origin that closes without a byte
    (502), one that closes mid-body, and a port nothing listens on, the
    proxy has the descriptors it had before: it closes the origin's socket
    on every path. (The origin says Connection: close, so that even a proxy
    that keeps origin connections for reuse, as the reference does, keeps
    none of these.)"""
    proxy = start_program(no_pool + ["{port}"])
    close = "?header=Connection%3A%20close"
    check_body(proxy, origin, "/text/10" + close, "a first request")
    pid = proxy.pid
    fds, threads = proc.fd_table(pid), proc.tasks(pid)
    done = []
    for i in range(10):
        check_body(proxy, origin, f"/text/100/{i}{close}",
                   f"request {i + 1} of 10, after a first")
    done.append("10 responses relayed whole")
    for query, what in (("?fault=close-before", "an origin that closes without a byte"),
                        ("?fault=close-mid-body", "an origin that closes mid-body")):
        exchange(proxy.port, request_for(origin.url("/text/1000/fail" + query)))
        done.append(what)
    exchange(proxy.port, request_for(f"http://127.0.0.1:{scripted.refused_port()}/"))
    done.append("and a port nothing listens on")
    now = proc.wait_quiet(pid, fds, threads, timeout=3)
    if now != (fds, set()):
        fail(f"after {', '.join(done)}, the proxy has {len(now[0])} descriptors open, "
             f"against {len(fds)} before them (3 s after the last client had its answer)",
             proc.fd_changes(fds, now[0]),
             "close the origin's socket once its response is relayed, and on every error "
             "path: a proxy that leaks one a request runs out of descriptors",
             f"see: ls -l /proc/$(pgrep -n proxy)/fd while you try {by_hand(origin.url('/text/100'))}")


def test_origin_closing_without_a_byte_502(server, origin):
    """An origin that takes the request and closes without sending a byte:
    the client gets a 502 page, not an empty reply."""
    url = origin.url("/text/10?fault=close-before")
    expect_error(server, request_for(url), 502,
                 "an origin that closes the connection without sending a byte",
                 by_hand(url), "nothing at all came from the origin: return -502, and "
                 "proxy.c sends the page")


def test_origin_failing_mid_body_gets_no_error_page(server, origin):
    """An origin that sends its head and half its body, then closes: the
    client gets those bytes and the close, and nothing after them (an error
    page cannot follow part of a response)."""
    path = "/text/20000/cut"
    url = origin.url(path + "?fault=close-mid-body")
    request = request_for(url)
    reply = exchange(server.port, request)
    r = parse_response(reply.data)
    half = body_for(path)[:10000]
    if r is not None and r.status == 200 and r.body == half and reply.end == "closed":
        return
    if r is not None and r.body.startswith(half) and len(r.body) > len(half):
        problem = (f"after the 10000 bytes of body the origin sent came {len(r.body) - 10000} "
                   f"more: {show(r.body[10000:])}")
    elif r is None or r.status != 200:
        problem = "expected its head (200) and the bytes that came, got " + (
            f"{r.status} {r.reason}" if r else "no response")
    else:
        problem = (f"expected exactly the 10000 bytes of body that came, got {len(r.body)}, "
                   f"first difference at {first_difference(half, r.body)}")
    fail(f"an origin that sends a 20000-byte body's head and first 10000 bytes, then "
         f"closes: {problem}",
         f"sent: {show(request)}", f"got:  {show(reply.data)}, {reply.ending()}",
         "once the client has part of a response, nothing else can follow it: return -1 "
         "(no error page) and close",
         f"reproduce by hand: {by_hand(url)}")


def expect_dripped(proxy, origin, path, query, what, timeout, hint):
    """Fetch path from an origin that drips it (query), and check that the
    body came whole, then a close."""
    url = origin.url(path + query)
    request = request_for(url)
    reply = exchange(proxy.port, request, deadline=10)
    r = parse_response(reply.data)
    if r is None or r.status != 200 or r.body != body_for(path) or reply.end != "closed":
        got = (f"{r.status} {r.reason} with {len(r.body)} bytes of body" if r
               else "no response")
        fail(f"{what} (the proxy's timeout is {timeout}): expected 200 and the "
             f"{len(body_for(path))}-byte body whole, got {got} in {reply.seconds:.2f} s",
             f"sent: {show(request)}", f"got:  {show(reply.data)}, {reply.ending()}", hint,
             f"reproduce by hand: {by_hand(url)}")


def test_slow_origin_drips_through(server, origin):
    """An origin that sends its response 100 bytes every 100 ms, far within
    the proxy's 30-second timeout: it comes through whole."""
    expect_dripped(server, origin, "/text/300/drip", "?fault=drip&drip=100&drip_ms=100",
                   "an origin that sends 100 bytes every 100 ms", "30 s",
                   "timeout_ms is milliseconds, as rio_set_deadline takes them: nothing "
                   "here waits 30 s")


def test_timeout_is_per_read(start_program, origin):
    """With --timeout 1, an origin that sends 100 bytes every 200 ms for 1.2 s
    in all never keeps the proxy waiting 1 s: the response comes through
    whole. The timeout bounds each wait, not the whole response."""
    proxy = start_program(["{port}", "--timeout", "1"])
    expect_dripped(proxy, origin, "/text/600/drip", "?fault=drip&drip=100&drip_ms=200",
                   "an origin that sends 100 bytes every 200 ms, 1.2 s in all", "1 s",
                   "set the deadline again before each read (rio_set_deadline): the timeout "
                   "bounds each wait for the origin, and a long response may take longer")


def test_forwards_what_has_come(server, origin):
    """The origin sends its head and the first 100 bytes of a 5,000-byte
    body, then holds the rest until the client has seen those: the proxy
    passes each read's bytes on at once, never waiting for a full buffer."""
    path = "/text/5000/parts"
    url = origin.url(path + "?hold=rest&hold_at=100")
    request = request_for(url)
    first = body_for(path)[:100]
    with connect(server.port) as s:
        s.sendall(request)
        data, end = receive_until(s, lambda d: (r := parse_response(d)) is not None and (
            r.status != 200 or len(r.body) >= 100), deadline=3)
        r = parse_response(data)
        if r is None or r.status != 200 or r.body != first:
            fail("the origin sent its head and the first 100 bytes of a 5000-byte body, and "
                 "waits for the client to see them before it sends the rest: "
                 + (f"expected 200, got {r.status} {r.reason}" if r and r.status != 200 else
                    "the client got other bytes" if end == "done" else
                    "within 3 s the client did not get them"),
                 f"sent: {show(request)}",
                 f"got:  {show(data)}, then " + {"done": "the test stopped reading",
                                                  "closed": "the proxy closed the connection",
                                                  "reset": "the connection was reset",
                                                  "timeout": "nothing more for 3 s"}[end],
                 "relay what each read brings (rio_read), as it comes: waiting for a full "
                 "buffer (rio_readnb) holds back a response that arrives in parts")
        origin.release("rest")
        s.shutdown(socket.SHUT_WR)
        rest = receive(s)
    r = parse_response(data + rest.data)
    if r is None or r.body != body_for(path) or rest.end != "closed":
        fail("the origin sent the rest of its 5000-byte body once the client had the first "
             "100 bytes: expected it all, then a close",
             f"got:  {show(data + rest.data)}, {rest.ending()}")


def test_client_gone_origin_closed(server, origin):
    """The client reads the first bytes of a response the origin drips for
    10 s, then hangs up: the proxy stops and closes the origin's connection
    (it notices at its next write to the client), never reading on."""
    url = origin.url("/bin/1000000/gone?fault=drip&drip=1000&drip_ms=10")
    request = request_for(url)
    with connect(server.port) as s:
        s.sendall(request)
        got = receive(s, limit=2000)
        if len(got.data) < 2000 or origin.connections_open() != 1:
            fail("a response the origin sends 1000 bytes every 10 ms: expected its first "
                 f"2000 bytes, with the origin's connection open, got {show(got.data)}, "
                 f"{got.ending()}", f"reproduce by hand: {by_hand(url)}")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    try:
        origin.wait_connections(0, timeout=3)
        return
    except AssertionError:
        pass                    # fail below, with no exception chained to the failure
    fail("the client read 2000 bytes of a 1000000-byte response the origin sends 1000 "
         "bytes every 10 ms, then hung up (a reset): 3 s later the proxy still had the "
         "origin's connection open, reading on for no one",
         "when a write to the client fails (rio_writen returns -1), stop relaying, "
         "close the origin's socket and return -1",
         f"reproduce by hand: {by_hand(url)}, then Ctrl-C curl, and watch the origin "
         "stub's connection (ss -tn)")
