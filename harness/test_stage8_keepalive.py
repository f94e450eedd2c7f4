"""Stage 8: HTTP/1.1 persistent connections, request bodies and message
framing, without smuggling.

Most tests hold one client connection open (kit.client.Connection) and read
each response by its framing, so a proxy that closes the connection after a
response fails at once, on the next read, with no waiting. The origin stub
records every request, with its body as it came (raw_body), so a test sees
exactly what the proxy forwarded, and that no smuggled request got through.
"""
import http.client
import random
import re
import time
from urllib.parse import quote

from kit import proc
from kit.client import DEADLINE, Connection
from kit.expect import fail, first_difference, shell_printer, show, upstream_connection_problem
from kit.origin import body_for, resource
from test_stage3_forward import UNRESOLVABLE, request_for
from test_stage5_log import parse, wait_lines

PROGRAM = "proxy"


# -- requests and failure messages ---------------------------------------------

def request(method, url, fields=(), body=b"", version="HTTP/1.1"):
    """The bytes of a proxy request for url: head (with Host and fields), then body."""
    head = request_for(url, fields, method)
    if version != "HTTP/1.1":
        head = head.replace(b" HTTP/1.1\r\n", f" {version}\r\n".encode(), 1)
    return head + body


def chunked(body, sizes, ext=b"", trailers=b""):
    """body framed as chunks of the given sizes (the last size repeats), each
    size line followed by ext, and trailers (CRLF-terminated fields) at the end."""
    out, i, n = [], 0, 0
    while i < len(body):
        size = sizes[min(n, len(sizes) - 1)]
        out.append(b"%x%s\r\n%s\r\n" % (len(body[i:i + size]), ext, body[i:i + size]))
        i, n = i + size, n + 1
    return b"".join(out) + b"0" + ext + b"\r\n" + trailers + b"\r\n"


def by_hand(sent, args=""):
    """A shell command that sends the same bytes to a proxy on port 5000 and an
    origin stub on port 8000 (the test's own are on random ports)."""
    sent = re.sub(rb"127\.0\.0\.1:\d+", b"127.0.0.1:8000", bytes(sent))
    printer = shell_printer(sent) or "(the bytes are too long to show here)"
    return (f"python3 ../../harness/kit/origin.py --port 8000 &  ./proxy {args}5000 &  "
            f"{printer} | nc -N 127.0.0.1 5000")


def hint(conn):
    """What a student most likely has to do, from how the connection ended."""
    if conn.end in ("closed", "reset"):
        return ("the proxy closed the connection: from stage 8 on, a client connection "
                "stays open after a response (HTTP/1.1 keep-alive) unless the client or "
                "the response's framing says otherwise")
    if conn.end == "timeout":
        return ("the proxy sent nothing more: is the response relayed by its framing "
                "(Content-Length, chunks), not until the origin closes?")
    return ""


def next_response(conn, what, method="GET", args="", deadline=None):
    """The next response on conn, whole; fail with all the details if none came."""
    r = conn.read_response(method, deadline)
    if r is None:
        fail(f"{what}: {conn.why}, {conn.ending()}",
             f"sent on this connection: {show(conn.sent)}",
             f"got on this connection:  {show(conn.received)}",
             hint(conn), f"reproduce by hand: {by_hand(conn.sent, args)}")
    return r


def expect_connection(conn, r, token, what):
    """The response has exactly one Connection field, saying token."""
    if r.tokens("Connection") != [token]:
        fail(f"{what}: the response's Connection field says "
             f"{[v for n, v in r.headers if n.lower() == 'connection']}, expected [{token!r}]",
             f"got: {show(r.raw)}",
             "every relayed response gets one Connection field: keep-alive while the "
             "connection stays open, close when it is the last one",
             f"reproduce by hand: {by_hand(conn.sent)}")


def expect_body(conn, r, path, what):
    """r is the origin's answer for path: its status and its body, byte for byte."""
    want, status = body_for(path), resource(path).status
    if r.status != status or r.body != want:
        diff = first_difference(want, r.body)
        fail(f"{what}: expected {status} and the {len(want)} bytes of {path}, got "
             f"{r.status} and {len(r.body)} bytes", f"got: {show(r.raw)}",
             f"the body's first difference at {diff}" if diff else "",
             f"reproduce by hand: {by_hand(conn.sent)}")


def expect_closed(conn, what, args=""):
    """The proxy closes conn now: nothing more comes, then the close."""
    extra = conn.wait_end()
    if extra or conn.end != "closed":
        fail(f"{what}: expected the proxy to close the connection, but "
             + (f"{show(extra)} came" if extra else "it did not"), f"{conn.ending()}",
             f"sent on this connection: {show(conn.sent)}",
             f"reproduce by hand: {by_hand(conn.sent, args)}")


def get_ok(conn, origin, path, what):
    """GET path on conn: the right body, and the connection kept open."""
    conn.send(request("GET", origin.url(path)))
    r = next_response(conn, what)
    expect_body(conn, r, path, what)
    expect_connection(conn, r, "keep-alive", what)
    return r


def direct_raw(origin, path):
    """The origin's own response to GET path: every byte after the head."""
    with Connection(origin.port) as conn:
        conn.send(f"GET {path} HTTP/1.1\r\nHost: {origin.authority}\r\nConnection: close"
                  "\r\n\r\n".encode())
        raw = conn.wait_end()
        return raw[raw.find(b"\r\n\r\n") + 4:]


def param(name, value):
    """A query parameter with its value URL-encoded."""
    return f"{name}=" + quote(value, safe="")


# -- persistent connections ------------------------------------------------------

def test_three_requests_on_one_connection(server, origin):
    """Three requests one after another on one connection: three right
    responses, each with Connection: keep-alive, and the origin sees three
    requests. A fourth with Connection: close is answered, then closed."""
    paths = ["/text/1000/ka1", "/bin/5000/ka2", "/nothing/ka3"]
    with Connection(server.port) as conn:
        for i, path in enumerate(paths):
            get_ok(conn, origin, path, f"request {i + 1} of 3 on one connection")
            origin.wait_for_requests(i + 1)
        conn.send(request("GET", origin.url("/text/10/ka4"), ["Connection: close"]))
        r = next_response(conn, "a fourth request, with Connection: close")
        expect_body(conn, r, "/text/10/ka4", "a fourth request, with Connection: close")
        expect_connection(conn, r, "close", "a request with Connection: close")
        expect_closed(conn, "after the answer to a request with Connection: close")
    seen = [r.path for r in origin.requests]
    if seen != paths + ["/text/10/ka4"]:
        fail(f"the origin received {seen}, expected {paths + ['/text/10/ka4']}")


def test_pipelined_requests(server, origin):
    """Five requests in one write (GET, HEAD, POST with a body by length, PUT
    with a chunked body, GET) are answered in order, and each body reaches
    the origin whole, with nothing of the next request in it."""
    put = chunked(b"chunks, then a GET", [6])
    cases = [("GET", "/text/300/p1", [], b""), ("HEAD", "/text/400/p2", [], b""),
             ("POST", "/bin/500/p3", ["Content-Length: 11"], b"a=1&b=2&c=3"),
             ("PUT", "/text/50/p4", ["Transfer-Encoding: chunked"], put),
             ("GET", "/text/60/p5", [], b"")]
    with Connection(server.port) as conn:
        conn.send(b"".join(request(m, origin.url(p), f, b) for m, p, f, b in cases))
        for i, (method, path, _, _) in enumerate(cases):
            what = f"pipelined request {i + 1} of 5 ({method} {path}), all sent in one write"
            r = next_response(conn, what, method)
            if method == "HEAD":
                if r.status != 200 or r.header("Content-Length") != "400" or r.body:
                    fail(f"{what}: expected 200 with Content-Length: 400 and no body",
                         f"got: {show(r.raw)}", f"reproduce by hand: {by_hand(conn.sent)}")
            else:
                expect_body(conn, r, path, what)
            expect_connection(conn, r, "keep-alive", what)
    seen = [(r.method, r.path, r.raw_body) for r in origin.requests]
    want = [(m, p, b) for m, p, _, b in cases]
    if seen != want:
        fail("five pipelined requests reached the origin otherwise than sent",
             *(f"got {g}, expected {w}" for g, w in zip(seen, want) if g != w),
             f"{len(seen)} requests reached the origin, of {len(want)}")


def test_connection_close_and_http10(server, origin):
    """Connection: close, and HTTP/1.0 without keep-alive, get Connection:
    close and then a close; HTTP/1.0 with Connection: keep-alive stays open."""
    closing = [(request("GET", origin.url("/text/10/c1"), ["Connection: close"]),
                "/text/10/c1", "HTTP/1.1 with Connection: close"),
               (request("GET", origin.url("/text/10/c2"), version="HTTP/1.0"),
                "/text/10/c2", "HTTP/1.0 without keep-alive")]
    for sent, path, what in closing:
        with Connection(server.port) as conn:
            conn.send(sent)
            r = next_response(conn, what)
            expect_body(conn, r, path, what)
            expect_connection(conn, r, "close", what)
            expect_closed(conn, f"after the answer to {what}")
    with Connection(server.port) as conn:
        for i in range(2):
            what = f"HTTP/1.0 with Connection: keep-alive, request {i + 1}"
            conn.send(request("GET", origin.url(f"/text/20/k{i}"), ["Connection: keep-alive"],
                              version="HTTP/1.0"))
            r = next_response(conn, what)
            expect_body(conn, r, f"/text/20/k{i}", what)
            expect_connection(conn, r, "keep-alive", what)


def test_idle_connection_closed_after_idle_timeout(start_program, no_pool, origin):
    """With --idle-timeout 1, a connection that idles after two responses is
    closed by the proxy, silently (no 408), no sooner than a second later,
    and its thread and descriptors are gone."""
    proxy = start_program(no_pool + ["{port}", "--idle-timeout", "1"])
    pid = proxy.pid
    fds = proc.fd_table(pid)
    with Connection(proxy.port) as warm:            # a sanitizer may add a thread of its own
        warm.send(request("GET", origin.url("/text/5/warm"), ["Connection: close"]))
        next_response(warm, "a first request")
        warm.wait_end()
    before = proc.tasks(pid)
    with Connection(proxy.port) as conn:
        for i in range(2):
            get_ok(conn, origin, f"/text/50/idle{i}", f"request {i + 1} before idling")
        idle_from = time.monotonic()
        extra = conn.wait_end(deadline=10)
        idled = time.monotonic() - idle_from
        if extra or conn.end != "closed" or idled < 0.5:      # 0.5: slack for a busy machine
            fail("a kept-alive connection idle for --idle-timeout 1: expected a silent close "
                 "after about a second", f"got {show(extra)} after {idled:.2f} s, "
                 f"{conn.ending()}", f"reproduce by hand: {by_hand(conn.sent, '--idle-timeout 1 ')}")
    now = proc.wait_quiet(pid, fds, before)
    if now != (fds, set()):
        fail(f"after the idle connection was closed, the proxy has {len(now[0])} descriptors "
             f"(against {len(fds)}) and {len(now[1])} more threads than before",
             proc.fd_changes(fds, now[0]), "the thread that served the connection must end and close its socket")


# -- response framing --------------------------------------------------------------

EMPTY_QUOTED = param("chunk_ext", ';e=""')
CHUNKED_SHAPES = [
    ("one chunk", "/text/500/c1?fault=chunked&chunk=1000"),
    ("many 7-byte chunks", "/bin/3000/c2?fault=chunked&chunk=7"),
    ("64 KiB chunks", "/bin/300000/c3?fault=chunked&chunk=65536"),
    ("an extension on every chunk", f"/text/2000/c4?fault=chunked&chunk=300&"
                                    f"{param('chunk_ext', ';name=value;flag')}"),
    ("an extension with an empty quoted value", f"/text/99/c5?fault=chunked&chunk=50&"
                                                f"{EMPTY_QUOTED}"),
    ("trailer fields", f"/bin/1500/c6?fault=chunked&chunk=600&{param('trailer', 'X-Sum: 42')}"
                       f"&{param('trailer', 'X-Count: 3')}"),
    ("an empty body: only the last chunk", "/text/0/c7?fault=chunked"),
    ("extensions and trailers, a byte at a time",
     f"/text/40/c8?fault=chunked&chunk=9&{param('chunk_ext', ';x=1')}&"
     f"{param('trailer', 'X-T: t')}&fault=drip&drip=1&drip_ms=0"),
]


def test_chunked_responses_relayed(server, origin):
    """Chunked responses of many shapes are relayed chunk for chunk (sizes,
    extensions and trailers as the origin sent them) on one kept-alive
    connection, and Python's http.client reads each of them."""
    with Connection(server.port) as conn:
        for what, path in CHUNKED_SHAPES:
            what = f"a chunked response with {what} ({path})"
            r = get_ok(conn, origin, path, what)
            want = direct_raw(origin, path)
            got = r.raw[r.raw.find(b"\r\n\r\n") + 4:]
            if got != want or "chunked" not in r.tokens("Transfer-Encoding"):
                fail(f"{what}: not relayed chunk for chunk, at "
                     f"{first_difference(want, got) or 'Transfer-Encoding'}",
                     f"the origin sent: {show(want)}", f"the client got:  {show(got)}",
                     f"reproduce by hand: {by_hand(conn.sent)}")
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=DEADLINE)
    try:
        for what, path in CHUNKED_SHAPES:
            path = path.replace("?", "/python?", 1)
            client.request("GET", origin.url(path))
            resp = client.getresponse()
            body = resp.read()
            if resp.status != 200 or body != body_for(path) or resp.will_close:
                fail(f"Python's http.client through the proxy, a chunked response with {what}: "
                     f"status {resp.status}, {len(body)} bytes (expected 200 and "
                     f"{len(body_for(path))})" + (", and the proxy said it would close the "
                                                   "connection" if resp.will_close else ""),
                     f"reproduce by hand: python3 -c 'import http.client as h; c = "
                     f"h.HTTPConnection(\"127.0.0.1\", 5000); c.request(\"GET\", "
                     f"\"{origin.url(path)}\"); print(c.getresponse().read())'")
    finally:
        client.close()


def test_curl_reuses_the_connection(server, origin, tmp_path):
    """curl --http1.1 -x, given four URLs (chunked, with trailers, a 404, a
    plain body), gets each body over one connection."""
    paths = [f"/bin/20000/curl1?fault=chunked&chunk=777&{param('chunk_ext', ';a=b')}",
             f"/text/3000/curl2?fault=chunked&{param('trailer', 'X-T: 1')}",
             "/nothing/curl3", "/text/5000/curl4"]
    argv = ["curl", "-s", "--http1.1", "-x", f"127.0.0.1:{server.port}", "--noproxy", "",
            "-w", "%{num_connects} "]
    for i, path in enumerate(paths):
        argv += ["-o", str(tmp_path / f"out{i}"), origin.url(path)]
    code, out = proc.run_output(argv)
    got = [(tmp_path / f"out{i}").read_bytes() if (tmp_path / f"out{i}").exists() else None
           for i in range(len(paths))]
    connects = out.decode(errors="replace").split()
    wrong = [p for p, g in zip(paths, got) if g != body_for(p)]
    if code != 0 or wrong or connects != ["1", "0", "0", "0"]:
        fail("curl --http1.1 -x with four URLs: "
             + (f"wrong bytes for {wrong[0]}" if wrong else f"curl exited {code}, and "
                f"opened connections {connects} (expected 1 0 0 0: one, then reused)"),
             "reproduce by hand: python3 ../../harness/kit/origin.py --port 8000 &  "
             "./proxy 5000 &  curl -v --http1.1 -x 127.0.0.1:5000 "
             + " ".join(f"'http://127.0.0.1:8000{p}'" for p in paths))


def test_bodiless_responses_keep_in_step(server, origin):
    """HEAD (with a Content-Length), 204, 304 with a Content-Length, and a 103
    before the final response, on one connection: no body is waited for where
    there is none, and the next response still parses."""
    with Connection(server.port) as conn:
        conn.send(request("HEAD", origin.url("/text/1000/b1")))
        r = next_response(conn, "HEAD of a 1000-byte page", "HEAD")
        if r.status != 200 or r.header("Content-Length") != "1000":
            fail(f"HEAD of a 1000-byte page: expected 200 with Content-Length: 1000, got "
                 f"{show(r.raw)}")
        expect_connection(conn, r, "keep-alive", "HEAD")
        for path, status, what in (("/text/10/b2?status=204", 204, "a 204"),
                                   ("/text/100/b3?status=304&header=Content-Length:100", 304,
                                    "a 304 with Content-Length: 100")):
            conn.send(request("GET", origin.url(path)))
            r = next_response(conn, what)
            if r.status != status:
                fail(f"{what}: expected {status}, got {show(r.raw)}")
            expect_connection(conn, r, "keep-alive", what)
        conn.send(request("GET", origin.url("/text/20/b4?interim=103")))
        r = next_response(conn, "a 103 Early Hints before a 200")
        if r.status != 103 or r.header("Link") is None:
            fail("a 103 Early Hints (with a Link field) before a 200: expected the 103 first",
                 f"got: {show(r.raw)}", f"reproduce by hand: {by_hand(conn.sent)}")
        r = next_response(conn, "the 200 after a 103")
        expect_body(conn, r, "/text/20/b4", "the 200 after a 103")
        get_ok(conn, origin, "/text/30/b5", "a GET after HEAD, 204, 304 and 103")


def test_close_delimited_response_closes_the_client(server, origin):
    """A response with no length and no chunks ends at the origin's close: the
    client gets it whole, with Connection: close, and then a close."""
    with Connection(server.port) as conn:
        get_ok(conn, origin, "/text/100/cd0", "a first request")
        path = "/text/3000/cd?fault=close-delimited"
        conn.send(request("GET", origin.url(path)))
        r = next_response(conn, "a response delimited by the origin's close")
        expect_body(conn, r, path, "a response delimited by the origin's close")
        expect_connection(conn, r, "close", "a response delimited by the origin's close")


def test_hop_by_hop_fields_removed(server, origin):
    """The origin's hop-by-hop fields (Connection, Keep-Alive, Proxy-Connection,
    TE, Upgrade and those Connection names) are not relayed; the status line
    is relayed as the origin sent it; end-to-end fields are kept. (Trailer is
    not checked: RFC 9110 section 6.6.2 makes it end-to-end, and it goes with
    the trailers of a chunked body, which are relayed.)"""
    fields = ["Connection: close, X-Secret", "X-Secret: s", "Keep-Alive: timeout=5",
              "Proxy-Connection: keep-alive", "TE: trailers", "Upgrade: h2c", "X-Kept: yes"]
    path = "/text/100/hop?status=418&" + "&".join(param("header", f) for f in fields)
    with Connection(server.port) as conn:
        conn.send(request("GET", origin.url(path)))
        r = next_response(conn, "a response with hop-by-hop fields")
        names = [n.lower() for n, _ in r.headers]
        passed = [h for h in ("x-secret", "keep-alive", "proxy-connection", "te", "upgrade")
                  if h in names]
        status_line = r.raw.split(b"\r\n", 1)[0]
        if passed or r.header("X-Kept") != "yes" or status_line != b"HTTP/1.1 418 I'm a teapot":
            fail("a response with hop-by-hop fields: " + (
                f"{', '.join(passed)} passed on to the client" if passed else
                f"status line {status_line!r} (expected b\"HTTP/1.1 418 I'm a teapot\"), "
                f"X-Kept {r.header('X-Kept')!r} (expected 'yes')"),
                 f"got: {show(r.raw)}", f"reproduce by hand: {by_hand(conn.sent)}")
        expect_connection(conn, r, "keep-alive", "a response with hop-by-hop fields")
        get_ok(conn, origin, "/text/10/hop2", "the next request")


def test_bad_response_framing_is_502(server, origin):
    """A response with both Content-Length and Transfer-Encoding, or with a
    Content-Length that is not one number, gets 502 (Connection: close, then a
    close); nothing of the origin's response reaches the client."""
    cases = [
        ("Content-Length and chunked", "/text/100/f1?fault=chunked&header=Content-Length:100"),
        ("a list of lengths", f"/text/100/f2?{param('header', 'Content-Length: 100, 100')}"),
        ("two differing lengths", "/text/100/f3?header=Content-Length:100&"
                                  "header=Content-Length:99"),
        ("a negative length", "/text/100/f4?header=Content-Length:-100"),
        ("an overflowing length", "/text/100/f5?header=Content-Length:" + "9" * 20),
        ("a length that is not a number", "/text/100/f6?header=Content-Length:0x64"),
    ]
    for what, path in cases:
        what = f"a response with {what} ({path})"
        with Connection(server.port) as conn:
            get_ok(conn, origin, "/text/10/f0", "a first request")
            conn.send(request("GET", origin.url(path)))
            r = next_response(conn, what)
            leaked = body_for(path)[:40] in conn.received
            if r.status != 502 or leaked:
                fail(f"{what}: expected 502 and nothing of the origin's response, got "
                     f"{r.status}" + (" and the origin's body" if leaked else ""),
                     f"got: {show(r.raw)}", f"reproduce by hand: {by_hand(conn.sent)}")
            expect_connection(conn, r, "close", f"{what}: the 502")
            expect_closed(conn, f"{what}: after the 502")


def test_cut_responses_close_the_client(server, origin):
    """A body cut short by the origin, or a malformed chunk mid-body: the client
    gets what was relayed (a prefix of what the origin sent), then a close."""
    for path, what in (("/bin/10000/cut?fault=close-mid-body", "a body cut short"),
                       ("/bin/10000/badchunk?fault=bad-chunk", "a malformed chunk mid-body")):
        want = direct_raw(origin, path)
        with Connection(server.port) as conn:
            start = len(get_ok(conn, origin, "/text/10/cut0", "a first request").raw)
            conn.send(request("GET", origin.url(path)))
            if conn.read_response() is not None:
                fail(f"{what}: the client got a whole response", f"got: {show(conn.received)}")
            got = bytes(conn.received[conn.received.find(b"\r\n\r\n", start) + 4:])
            if conn.end not in ("closed", "reset") or not want.startswith(got):
                fail(f"{what}: expected a prefix of the origin's bytes, then a close",
                     f"got {show(got)}, {conn.ending()}", f"the origin sent: {show(want)}",
                     f"reproduce by hand: {by_hand(conn.sent)}")


def test_bytes_past_content_length_dropped(server, origin):
    """An origin that sends 100 bytes with Content-Length: 50: the client gets
    50, and the next response on the connection is not spoiled."""
    path = "/text/100/past?header=Content-Length:50"
    with Connection(server.port) as conn:
        conn.send(request("GET", origin.url(path)))
        r = next_response(conn, "Content-Length: 50 and 100 bytes")
        if r.status != 200 or r.body != body_for(path)[:50]:
            fail("Content-Length: 50 and 100 bytes: expected the first 50 bytes",
                 f"got: {show(r.raw)}")
        get_ok(conn, origin, "/text/10/after", "the next request after a response with "
               "bytes past its Content-Length")


# -- request bodies ------------------------------------------------------------------

def expect_forwarded(origin, i, method, path, body, raw_body, what, conn, stage):
    """The origin's request i: method, path, body as sent, HTTP/1.1, Connection:
    close (none from stage 9: upstream_connection_problem), Via, and no Expect
    (the reference, stage 9, passes it on for the origin to answer:
    test_reference_http.py checks that)."""
    seen = origin.wait_for_requests(i + 1)[i]
    problems = []
    if (seen.method, seen.path) != (method, path.split("?")[0]):
        problems.append(f"request {seen.method} {seen.path}, expected {method} {path}")
    if seen.raw_body != raw_body:
        problems.append(f"body {show(seen.raw_body)}, expected {show(raw_body)}, first "
                        f"difference at {first_difference(raw_body, seen.raw_body)}")
    if seen.body != body:
        problems.append(f"decoded body {show(seen.body)}, expected {show(body)}")
    if seen.version != "HTTP/1.1" or not (seen.header("Via") or "").startswith("1.1 "):
        problems.append(f"{seen.version}, Via {seen.header('Via')!r}: expected HTTP/1.1 and "
                        "1.1 <name>")
    if (problem := upstream_connection_problem(seen, stage)):
        problems.append(problem)
    if problems:
        fail(f"{what}: what the origin received: {problems[0]}", *problems[1:],
             "the origin received:", *(f"  {n}: {v}" for n, v in seen.headers),
             f"reproduce by hand: {by_hand(conn.sent)}")
    return seen


def test_request_bodies_forwarded(pytestconfig, server, origin):
    """POST, PUT, PATCH, DELETE, OPTIONS and an extension method, with bodies by
    Content-Length and chunked (relayed as sent, extensions and trailers too),
    on one connection: the origin gets each byte for byte, over HTTP/1.1."""
    binary = bytes(range(256)) * 4
    chunk_body = chunked(b"hello, chunked world", [5, 3, 100], b";ext=1", b"X-Trailer: t\r\n")
    cases = [
        ("POST", "/text/10/post", ["Content-Length: 1024"], binary, binary, binary),
        ("PUT", "/text/10/put", ["Transfer-Encoding: chunked"], chunk_body,
         b"hello, chunked world", chunk_body),
        ("PATCH", "/text/10/patch", ["Content-Length: 3"], b"a=1", b"a=1", b"a=1"),
        ("DELETE", "/text/10/delete", [], b"", b"", b""),
        ("OPTIONS", "/text/10/options", [], b"", b"", b""),
        ("PROPFIND", "/text/10/propfind", ["Content-Length: 4"], b"<x/>", b"<x/>", b"<x/>"),
        ("POST", "/text/10/gzip-chunked", ["Transfer-Encoding: gzip, chunked"],
         chunked(b"\x1f\x8b not really gzip", [4]), b"\x1f\x8b not really gzip",
         chunked(b"\x1f\x8b not really gzip", [4])),
    ]
    with Connection(server.port) as conn:
        for i, (method, path, fields, sent_body, body, raw_body) in enumerate(cases):
            what = f"{method} with {fields[0] if fields else 'no body'}"
            conn.send(request(method, origin.url(path), fields, sent_body))
            r = next_response(conn, what)
            expect_body(conn, r, path, what)
            expect_connection(conn, r, "keep-alive", what)
            seen = expect_forwarded(origin, i, method, path, body, raw_body, what, conn,
                                    pytestconfig.getoption("--stage"))
            if fields and "chunked" in fields[0] and (seen.header("Transfer-Encoding") or "") \
                    .split(",")[-1].strip().lower() != "chunked":
                fail(f"{what}: the origin got Transfer-Encoding "
                     f"{seen.header('Transfer-Encoding')!r} with a chunked body")


def test_10mib_request_bodies_streamed(pytestconfig, server, origin):
    """A 10 MiB POST by Content-Length and a 10 MiB PUT in chunks reach the
    origin byte for byte, on one connection; then a 40 MiB PUT grows the
    proxy's memory by far less than its size (bodies are streamed)."""
    data = random.Random(8).randbytes(10 << 20)
    sizes = [1, 4096, 65536, 100000, 1 << 20]
    chunk_body = chunked(data, sizes)
    with Connection(server.port, deadline=60) as conn:
        conn.send(request("POST", origin.url("/text/10/big1"), [f"Content-Length: {len(data)}"],
                          data))
        expect_body(conn, next_response(conn, "a 10 MiB POST"), "/text/10/big1", "a 10 MiB POST")
        expect_forwarded(origin, 0, "POST", "/text/10/big1", data, data, "a 10 MiB POST", conn,
                         pytestconfig.getoption("--stage"))
        conn.send(request("PUT", origin.url("/text/10/big2"), ["Transfer-Encoding: chunked"],
                          chunk_body))
        expect_body(conn, next_response(conn, "a 10 MiB chunked PUT"), "/text/10/big2",
                    "a 10 MiB chunked PUT")
        expect_forwarded(origin, 1, "PUT", "/text/10/big2", data, chunk_body,
                         "a 10 MiB chunked PUT", conn, pytestconfig.getoption("--stage"))
        before = proc.peak_memory_kib(server.pid)
        big = data * 4
        conn.send(request("PUT", origin.url("/text/10/big3"), [f"Content-Length: {len(big)}"],
                          big))
        next_response(conn, "a 40 MiB PUT")
    grown = proc.peak_memory_kib(server.pid) - before
    if origin.requests[2].body != big or grown > 16 * 1024:
        fail(f"a 40 MiB PUT: the proxy's peak memory grew by {grown} KiB",
             "expected: the body at the origin, and growth under 16 MiB: relay each buffer "
             "as it arrives, never the whole body")


def test_expect_100_continue(pytestconfig, server, origin, tmp_path):
    """Expect: 100-continue gets a 100 Continue before the body is sent: the
    proxy passes Expect on and relays the origin stub's 100 (forward.c);
    curl's 2 MiB POST gets through."""
    with Connection(server.port) as conn:
        conn.send(request("POST", origin.url("/text/10/expect"),
                          ["Expect: 100-continue", "Content-Length: 11"]))
        r = next_response(conn, "a POST with Expect: 100-continue, before its body")
        if r.status != 100:
            fail("a POST with Expect: 100-continue: expected HTTP/1.1 100 Continue before the "
                 f"client sends its body, got {show(r.raw)}")
        conn.send(b"hello world")
        r = next_response(conn, "the POST's answer, after its body")
        expect_body(conn, r, "/text/10/expect", "the POST's answer, after its body")
        expect_forwarded(origin, 0, "POST", "/text/10/expect", b"hello world", b"hello world",
                         "a POST with Expect: 100-continue", conn,
                         pytestconfig.getoption("--stage"))
    data = random.Random(9).randbytes(2 << 20)
    (tmp_path / "post.bin").write_bytes(data)
    code, out = proc.run_output(["curl", "-s", "--http1.1", "-x", f"127.0.0.1:{server.port}",
                                 "--noproxy", "", "--data-binary", f"@{tmp_path / 'post.bin'}",
                                 origin.url("/text/10/curlpost")])
    if code != 0 or out != body_for("/text/10/curlpost") or origin.requests[-1].body != data:
        fail(f"curl --data-binary with 2 MiB through the proxy: curl exited {code}, got "
             f"{show(out)}, and the origin got {len(origin.requests[-1].body)} body bytes")


def test_empty_bodies(server, origin):
    """A POST with Content-Length: 0, a chunked PUT with only the last chunk,
    and an empty page (Content-Length: 0), on one connection, each with
    nothing sent after it: each is answered at once. A relay that reads
    before it looks at what is left waits for bytes that never come."""
    cases = [("POST", "/text/10/empty-post", ["Content-Length: 0"], b"",
              "a POST with Content-Length: 0"),
             ("PUT", "/text/10/empty-put", ["Transfer-Encoding: chunked"], b"0\r\n\r\n",
              "a PUT whose chunked body is only the last chunk"),
             ("GET", "/text/0/empty-page", [], b"", "a GET of an empty page (Content-Length: 0)")]
    with Connection(server.port) as conn:
        for method, path, fields, body, what in cases:
            conn.send(request(method, origin.url(path), fields, body))
            r = conn.read_response(method)
            if r is None:
                fail(f"{what}, with nothing sent after it: {conn.why}, {conn.ending()}",
                     f"sent on this connection: {show(conn.sent)}",
                     f"got on this connection:  {show(conn.received)}",
                     "a body of length 0 has no bytes to wait for: look at what is left of "
                     "the body before reading, and relay nothing",
                     f"reproduce by hand: {by_hand(conn.sent)}")
            expect_body(conn, r, path, what)
            expect_connection(conn, r, "keep-alive", what)


def test_unsafe_method_invalidates_the_cache(server, origin):
    """GET (MISS), GET (HIT), OPTIONS (safe: still a HIT), POST 200, then GET is
    a MISS again; a DELETE does the same to another URL."""
    def get(conn, path, verdict, what):
        r = get_ok(conn, origin, path, what)
        if r.header("X-Cache") != verdict:
            fail(f"{what}: X-Cache {r.header('X-Cache')!r}, expected {verdict}",
                 *(str(q) for q in origin.requests))

    def unsafe(conn, method, path, body=b""):
        conn.send(request(method, origin.url(path), [f"Content-Length: {len(body)}"], body))
        expect_body(conn, next_response(conn, method), path, method)

    with Connection(server.port) as conn:
        path = "/text/500/inv"
        get(conn, path, "MISS", "a first GET")
        get(conn, path, "HIT", "a second GET")
        conn.send(request("OPTIONS", origin.url(path)))
        next_response(conn, "OPTIONS")
        get(conn, path, "HIT", "a GET after OPTIONS (a safe method)")
        unsafe(conn, "POST", path, b"x=1")
        get(conn, path, "MISS", "a GET after a POST that succeeded")
        get(conn, path, "HIT", "the GET after that")
        get(conn, "/text/600/inv2", "MISS", "a first GET of another URL")
        unsafe(conn, "DELETE", "/text/600/inv2")
        get(conn, "/text/600/inv2", "MISS", "a GET after a DELETE that succeeded")


# -- smuggling ------------------------------------------------------------------------

def smuggled(origin):
    """A whole second request, hidden in a body: a proxy that mis-frames the
    first request forwards it."""
    return request("GET", origin.url("/text/5/smuggled"))


def header_cases(origin):
    """(what, fields, body) of requests the proxy must refuse with 400 before
    anything is forwarded. Cases after llhttp's content-length and
    transfer-encoding tests, node's test-http-invalid-te and RFC 9112 section 6."""
    s = smuggled(origin)
    te = "Transfer-Encoding: "
    return [
        ("Content-Length and Transfer-Encoding", ["Content-Length: 4", te + "chunked"],
         b"0\r\n\r\n" + s),
        ("Transfer-Encoding and Content-Length", [te + "chunked", "Content-Length: 40"],
         b"0\r\n\r\n" + s),
        ("Content-Length with eee, chunked", ["Content-Length: 10", te + "eee, chunked"],
         b"HELLOWORLD" + s),
        ("chunked, gzip", [te + "chunked, gzip"], b"0\r\n\r\n" + s),
        ("chunked, deflate", [te + "chunked, deflate"], b"5\r\nWorld\r\n0\r\n\r\n" + s),
        ("chunked, chunked", [te + "chunked, chunked"], b"0\r\n\r\n" + s),
        ("chunked then deflate in two fields", [te + "chunked", te + "deflate"],
         b"0\r\n\r\n" + s),
        ("chunkedx", [te + "chunkedx"], b"0\r\n\r\n" + s),
        ("chunkedchunked", [te + "chunkedchunked"], b"0\r\n\r\n" + s),
        ("chunked;q=1", [te + "chunked;q=1"], b"0\r\n\r\n" + s),
        ("an empty element before chunked", [te + ", chunked"], b"0\r\n\r\n" + s),
        ("an empty element: gzip, , chunked", [te + "gzip, , chunked"], b"0\r\n\r\n" + s),
        ("gzip alone", [te + "gzip"], b"0\r\n\r\n" + s),
        ("two differing Content-Lengths", ["Content-Length: 1", "Content-Length: 2"], b"x" + s),
        ("a Content-Length list 5, 5", ["Content-Length: 5, 5"], b"hello" + s),
        ("a negative Content-Length", ["Content-Length: -5"], b"hello" + s),
        ("a Content-Length of +5", ["Content-Length: +5"], b"hello" + s),
        ("a hex Content-Length", ["Content-Length: 0x5"], b"hello" + s),
        ("a Content-Length 4 2", ["Content-Length: 4 2"], b"hello" + s),
        ("a Content-Length of five", ["Content-Length: five"], b"hello" + s),
        ("an overflowing Content-Length (20 digits)", ["Content-Length: " + "9" * 20], s),
        ("an overflowing Content-Length (22 digits)",
         ["Content-Length: 1000000000000000000000"], s),
    ]


def chunk_cases(origin):
    """(what, chunked body) of bodies with a bad chunk: 400, close, and the
    smuggled request never reaches the origin. After llhttp's tests."""
    s = smuggled(origin)
    return [
        ("a chunk size that is not hex", b"zz\r\nhello\r\n0\r\n\r\n" + s),
        ("a negative chunk size", b"-5\r\nhello\r\n0\r\n\r\n" + s),
        ("a chunk size past 16 hex digits", b"1" + b"0" * 16 + b"\r\nhello\r\n0\r\n\r\n" + s),
        ("chunk data not followed by CRLF", b"5\r\nhelloXX0\r\n\r\n" + s),
        ("a missing last chunk", b"3\r\nfoo\r\n\r\n" + s),
        ("a chunk size ended by CR CR", b"5\r\r;ABCD\r\n34\r\nE\r\n0\r\n\r\n" + s),
        ("a chunk-size line over 4096 bytes",
         b"5;x=" + b"y" * 5000 + b"\r\nhello\r\n0\r\n\r\n" + s),
    ]


def expect_refused(conn, origin, what, sent, all_refused):
    """conn got 400 with Connection: close, then a close; no smuggled request
    (with all_refused: no request at all) reached the origin."""
    conn.send(sent)
    r = next_response(conn, what)
    if r.status != 400:
        fail(f"{what}: expected 400, got {r.status}", f"sent: {show(sent)}",
             f"got:  {show(r.raw)}", f"reproduce by hand: {by_hand(sent)}")
    expect_connection(conn, r, "close", f"{what}: the 400")
    expect_closed(conn, f"{what}: after the 400")
    bad = [q for q in origin.requests if all_refused or q.path.endswith("/smuggled")]
    if bad:
        fail(f"{what}: the origin received {bad[0]}"
             + (" (the smuggled request)" if bad[0].path.endswith("/smuggled") else ""),
             f"sent: {show(sent)}", f"reproduce by hand: {by_hand(sent)}")


def test_request_smuggling_refused(pytestconfig, server, origin):
    """The header table: both Content-Length and Transfer-Encoding, any
    Transfer-Encoding but a list of tokens ending in one chunked (and none in
    HTTP/1.0), and any Content-Length
    but one number (or equal copies of it): 400 and a close; the origin sees
    nothing. The accepted forms (gzip, chunked; Chunked; two equal lengths; 005)
    are forwarded, and the connection goes on."""
    accepted = [
        (["Transfer-Encoding: gzip, chunked"], b"5\r\nhello\r\n0\r\n\r\n"),
        (["Transfer-Encoding: Chunked"], b"5\r\nhello\r\n0\r\n\r\n"),
        (["Content-Length: 5", "Content-Length: 5"], b"hello"),
        (["Content-Length: 005"], b"hello"),
    ]
    with Connection(server.port) as conn:
        for i, (fields, body) in enumerate(accepted):
            what = f"a POST with {' and '.join(fields)}"
            conn.send(request("POST", origin.url(f"/text/10/ok{i}"), fields, body))
            expect_body(conn, next_response(conn, what), f"/text/10/ok{i}", what)
            expect_forwarded(origin, i, "POST", f"/text/10/ok{i}", b"hello",
                             body, what, conn, pytestconfig.getoption("--stage"))
    refused = len(origin.requests)
    http10 = ("Transfer-Encoding: chunked in HTTP/1.0", ["Transfer-Encoding: chunked"],
              b"0\r\n\r\n" + smuggled(origin), "HTTP/1.0")
    for what, fields, body, *version in header_cases(origin) + [http10]:
        with Connection(server.port) as conn:
            expect_refused(conn, origin, f"a POST with {what}",
                           request("POST", origin.url("/text/10/first"), fields, body,
                                   *version), False)
        if len(origin.requests) != refused:
            fail(f"a POST with {what}: the origin received {origin.requests[-1]}, expected "
                 "nothing: the proxy must refuse the request before forwarding it")


def proxies_with_and_without_pool(start_program, no_pool):
    """The proxy as it starts by default and, where its origin pool is at work
    (the reference), also with the pool off: a smuggled request behaves
    differently when its connection is reused."""
    return [start_program(["{port}"])] + ([start_program(no_pool + ["{port}"])] if no_pool else [])


def connection_framing_requests(origin, i):
    """(what, request, body as the origin must decode it) of requests whose
    Connection field names Content-Length, Transfer-Encoding or Host. Each
    body is a whole second request: if the proxy let Connection remove its
    framing, the origin would read that as a request of its own."""
    s = smuggled(origin)
    url = origin.url(f"/text/10/conn{i}")
    return [
        ("Connection: Content-Length", request(
            "POST", url, ["Connection: Content-Length", f"Content-Length: {len(s)}"], s), s),
        ("Connection: Transfer-Encoding", request(
            "POST", url, ["Connection: Transfer-Encoding", "Transfer-Encoding: chunked"],
            chunked(s, [len(s)])), s),
        ("Connection: Host, Content-Length", request(
            "PUT", url, ["Connection: Host, Content-Length", f"Content-Length: {len(s)}"], s), s),
    ]


def test_connection_cannot_unframe_requests(pytestconfig, start_program, no_pool, origin):
    """A Connection field may name only hop-by-hop fields (RFC 9110 7.6.1):
    one that names Content-Length, Transfer-Encoding or Host removes none of
    them, so the origin gets the body with its framing and one Host, and the
    smuggled request in the body never reaches it as a request. With the
    proxy's pool and without it: a smuggled response would wait on a
    pooled connection for the next client."""
    stage = pytestconfig.getoption("--stage")
    for proxy in proxies_with_and_without_pool(start_program, no_pool):
        for what, sent, body in connection_framing_requests(origin, len(origin.requests)):
            first = len(origin.requests)
            with Connection(proxy.port) as conn:
                conn.send(sent)
                path = sent.split(b" ", 2)[1].decode().split("/", 3)[3]
                expect_body(conn, next_response(conn, f"a request with {what}"), "/" + path,
                            f"a request with {what}")
                seen = expect_forwarded(origin, first, sent.split(b" ")[0].decode(),
                                        "/" + path, body, sent[sent.index(b"\r\n\r\n") + 4:],
                                        f"a request with {what}", conn, stage)
                framing = [f"{n}: {v}" for n, v in seen.headers
                           if n.lower() in ("content-length", "transfer-encoding", "host")]
                want = sorted([f"Host: {origin.authority}"] + [
                    line for line in sent.decode("latin-1").split("\r\n")
                    if line.startswith(("Content-Length:", "Transfer-Encoding:"))])
                if sorted(framing) != want:
                    fail(f"a request with {what}: the origin got {framing}, expected {want}",
                         "a Connection field never removes Content-Length, Transfer-Encoding "
                         "or Host: the proxy frames and routes the message by them",
                         f"reproduce by hand: {by_hand(conn.sent)}")
                get_ok(conn, origin, f"/text/20/after{first}", f"the request after one with {what}")
            with Connection(proxy.port) as victim:     # would take the pooled connection
                get_ok(victim, origin, f"/text/30/victim{first}",
                       f"another client's request, after one with {what}")
            bad = [q for q in origin.requests if q.path.endswith("/smuggled")]
            if bad:
                fail(f"a request with {what}: the origin received the request smuggled in its "
                     f"body, {bad[0]}", f"reproduce by hand: {by_hand(sent)}")


def test_connection_cannot_unframe_responses(start_program, no_pool, origin):
    """A response whose Connection field names Content-Length,
    Transfer-Encoding or Host keeps them: the client gets the body framed as
    the origin framed it, and its connection serves the next request."""
    cases = [("Connection: Content-Length", "/text/100/rcl", "Content-Length", "100"),
             ("Connection: Transfer-Encoding", "/text/100/rte?fault=chunked&chunk=7",
              "Transfer-Encoding", "chunked"),
             ("Connection: Host, X-Gone", "/text/100/rhost?" + param("header", "X-Gone: g")
              + "&" + param("header", "Host: kept"), "Host", "kept")]
    for proxy in proxies_with_and_without_pool(start_program, no_pool):
        with Connection(proxy.port) as conn:
            for what, path, name, value in cases:
                url = origin.url(path + ("&" if "?" in path else "?") + param("header", what))
                conn.send(request("GET", url))
                r = next_response(conn, f"a response with {what}")
                expect_body(conn, r, path, f"a response with {what}")
                if r.header(name) != value or r.header("X-Gone") is not None:
                    fail(f"a response with {what}: the client got {name} "
                         f"{r.header(name)!r}, expected {value!r}"
                         + (" (and X-Gone, which Connection named)" if r.header("X-Gone") else ""),
                         f"got: {show(r.raw)}", "a Connection field never removes "
                         "Content-Length, Transfer-Encoding or Host",
                         f"reproduce by hand: {by_hand(conn.sent)}")
                expect_connection(conn, r, "keep-alive", f"a response with {what}")
            get_ok(conn, origin, "/text/10/rnext", "the request after them")


def test_bad_chunks_in_request_bodies(server, origin):
    """Bad chunk sizes, a missing CRLF after chunk data, an overlong chunk-size
    line: 400 and a close, and the request hidden after them never reaches
    the origin."""
    for what, body in chunk_cases(origin):
        with Connection(server.port) as conn:
            get_ok(conn, origin, "/text/10/chunk0", "a first request")
            sent = request("POST", origin.url("/text/10/first"), ["Transfer-Encoding: chunked"],
                           body)
            expect_refused(conn, origin, f"a chunked POST with {what}", sent, False)


# -- errors and the log -----------------------------------------------------------------

def test_error_replies_close(start_program, origin):
    """After a kept-alive response, an error the proxy makes itself (502 for a
    host that does not resolve, 504 for an origin that never answers, 400 for
    origin form) says Connection: close, and the connection is then closed."""
    proxy = start_program(["{port}", "--timeout", "1"])
    for sent, status, what in (
            (request("GET", f"http://{UNRESOLVABLE}/"), 502, "a host that does not resolve"),
            (request("GET", origin.url("/text/10/err?fault=never")), 504,
             "an origin that never answers"),
            (b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "a request in origin form")):
        with Connection(proxy.port) as conn:
            get_ok(conn, origin, "/text/10/err0", "a first request")
            conn.send(sent)
            r = next_response(conn, what, args="--timeout 1 ")
            if r.status != status:
                fail(f"{what}, after a kept-alive response: expected {status}, got "
                     f"{show(r.raw)}", f"reproduce by hand: {by_hand(conn.sent, '--timeout 1 ')}")
            expect_connection(conn, r, "close", f"{what}: the {status}")
            expect_closed(conn, f"{what}: after the {status}", "--timeout 1 ")


def test_log_line_per_request(server, origin):
    """Four requests on one connection give four log lines, each with its
    method, status and the bytes its client received."""
    cases = [("GET", "/text/100/log1", b""), ("POST", "/text/10/log2", b"a=1&b=2"),
             ("HEAD", "/text/50/log3", b""), ("GET", "/nothing/log4", b"")]
    sizes = []
    with Connection(server.port) as conn:
        for method, path, body in cases:
            fields = [f"Content-Length: {len(body)}"] if body else []
            conn.send(request(method, origin.url(path), fields, body))
            sizes.append(len(next_response(conn, f"{method} {path}", method).raw))
    lines, _ = wait_lines(server, len(cases))
    if len(lines) != len(cases):
        fail(f"four requests on one connection left {len(lines)} log lines, expected 4",
             *lines)
    for line, (method, path, _), size in zip(lines, cases, sizes):
        f = parse(line)
        if (f["method"], f["url"], int(f["status"]), int(f["bytes"])) != \
                (method, origin.url(path), resource(path).status, size):
            fail(f"the log line of {method} {path}, on a kept-alive connection: {line}",
                 f"expected method {method}, URL {origin.url(path)}, status "
                 f"{resource(path).status} and {size} bytes (what the client received)")
