"""Stage 2: httpd, which answers each request with what its parser found.

Each test sends raw request bytes over a socket and checks the status, the
report in the body (for a request the parser accepts), and that the server
closes the connection after answering.
"""
import socket

from kit import proc
from kit.client import connect, exchange, parse_response, receive
from kit.expect import fail, shell_printer, show

PROGRAM = "httpd"


def by_hand(data):
    sender = shell_printer(data) or f"(the {len(data)} bytes this test sends)"
    return f"./httpd 5000   then, in another terminal:   {sender} | nc -N 127.0.0.1 5000"


def ask(server, request, what, **kw):
    """Send request, expect a whole response and a close; returns it. A reset
    after a whole response counts as a close: a server that refuses a request
    before reading all of it may well reset the connection."""
    reply = exchange(server.port, request, **kw)
    response = parse_response(reply.data)
    if response is None or reply.end not in ("closed", "reset"):
        fail(f"{what}: no complete HTTP response" if response is None else
             f"{what}: the server did not close the connection after its reply",
             f"sent:     {show(request)}",
             f"got:      {show(reply.data)}, {reply.ending()}",
             f"expected: a status line, headers, an empty line, a body, then a close",
             f"reproduce by hand: {by_hand(request)}")
    return response


def expect_status(server, request, status, what):
    """Send request and expect status; an error reply is an HTML page with
    Connection: close and a right Content-Length."""
    r = ask(server, request, what)
    problems = []
    if r.status != status:
        problems.append(f"status {r.status} {r.reason}, expected {status}")
    if status != 200 and "text/html" not in (r.header("Content-Type") or ""):
        problems.append(f"Content-Type {r.header('Content-Type')!r}, expected text/html")
    if (r.header("Connection") or "").lower() != "close":
        problems.append("no Connection: close")
    if r.header("Content-Length") != str(len(r.body)):
        problems.append(f"Content-Length {r.header('Content-Length')!r} but a "
                        f"{len(r.body)}-byte body")
    if problems:
        fail(f"{what}: {problems[0]}", *problems[1:], f"sent: {show(request)}",
             f"got:  {show(r.raw)}", f"reproduce by hand: {by_hand(request)}")
    return r


def report(response):
    """The report lines of a 200 response, as a set of "key: value" strings."""
    return set(response.body.decode("latin-1").splitlines())


VALID = [
    ("curl to a server", b"GET /a/b?x=1 HTTP/1.1\r\nHost: localhost:5000\r\n"
     b"User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
     ["method: GET", "form: origin", "path: /a/b", "query: ?x=1", "version: HTTP/1.1",
      "field: User-Agent: curl/7.88.1", "field: Accept: */*"]),
    ("a browser through a proxy", b"GET http://Example.COM:8080/p?q#frag HTTP/1.1\r\n"
     b"Host: example.com:8080\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) "
     b"Gecko/20100101 Firefox/128.0\r\nProxy-Connection: keep-alive\r\n\r\n",
     ["form: absolute", "scheme: http", "host: Example.COM", "port: 8080", "path: /p",
      "query: ?q", "field: Proxy-Connection: keep-alive"]),
    ("CONNECT to an IPv6 host", b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n",
     ["method: CONNECT", "form: authority", "host: ::1", "port: 443"]),
    ("HTTP/1.0 with bare LF line ends", b"\nGET / HTTP/1.0\nX-A:  padded \t\n\n",
     ["version: HTTP/1.0", "path: /", "field: X-A: padded"]),
    ("OPTIONS *", b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", ["form: asterisk", "path: *"]),
]


def test_valid_requests(server):
    for what, request, lines in VALID:
        got = report(expect_status(server, request, 200, what))
        missing = [l for l in lines if l not in got]
        if missing:
            fail(f"{what}: the report lacks {missing[0]!r}", f"sent: {show(request)}",
                 "report: " + " | ".join(sorted(got)), f"reproduce by hand: {by_hand(request)}")


ERRORS = [
    ("no version", b"GET /\r\n\r\n", 400),
    ("two spaces", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    ("no Host in HTTP/1.1", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two Host fields", b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400),
    ("no Host, only Hostile", b"GET / HTTP/1.1\r\nHostile: a\r\n\r\n", 400),
    ("a space before the colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400),
    ("a bare CR", b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400),
    ("userinfo", b"GET http://u:p@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("port 65536", b"GET http://a:65536/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("https in absolute form", b"GET https://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 501),
    ("CONNECT in origin form", b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("an unknown method", b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", 501),
]


def test_error_statuses(server):
    for what, request, status in ERRORS:
        expect_status(server, request, status, what)


def test_limits(server):
    """An overlong request line gets 414 and a huge head 431, without the
    server waiting for the end of either."""
    line = b"GET /" + b"a" * 9000
    expect_status(server, line, 414, "a 9,000-byte request line, still unfinished")
    head = b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X-Pad: " + b"b" * 100 + b"\r\n"
    expect_status(server, head * 200, 431, "a 25 KiB head, still unfinished")


def test_request_in_small_writes(server):
    """A request that arrives a few bytes at a time is parsed as if whole."""
    request = VALID[1][1]
    whole = report(expect_status(server, request, 200, "the request in one write"))
    with connect(server.port) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(request), 3):
            s.sendall(request[i:i + 3])
        r = parse_response(receive(s).data)
    if r is None or r.status != 200 or report(r) != whole:
        fail("the same request sent 3 bytes at a time got a different answer",
             f"sent: {show(request)}", f"got: {show(r.raw if r else b'')}")


def test_idle_client_times_out(start_program):
    """A client that connects and sends nothing gets 408 after the header
    timeout, and does not keep the next client waiting for ever."""
    server = start_program(["{port}", "--header-timeout", "1"])
    with connect(server.port) as idle:
        request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        after = exchange(server.port, request)      # served once the idle one times out
        idle_reply = receive(idle)
    r, first = parse_response(after.data), parse_response(idle_reply.data)
    if first is None or first.status != 408:
        fail("a client that sent nothing did not get 408 Request Timeout",
             f"got: {show(idle_reply.data)}, {idle_reply.ending()}",
             "reproduce by hand: ./httpd 5000 --header-timeout 1   and   nc 127.0.0.1 5000")
    if r is None or r.status != 200:
        fail("the client after an idle one was not served", f"got: {show(after.data)}")


def test_head_has_no_body(server):
    request = b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n"
    r = ask(server, request, "HEAD")
    if r.status != 200 or r.body or not r.header("Content-Length"):
        fail("HEAD: expected 200 with a Content-Length and no body",
             f"got: {show(r.raw)}", f"reproduce by hand: {by_hand(request)}")


def test_curl_client(server):
    """curl, a real client, gets a report of its own request."""
    code, out = proc.run_output(["curl", "-s", "-i", f"http://127.0.0.1:{server.port}/c?u=rl"])
    r = parse_response(out)
    if code != 0 or r is None or r.status != 200 or "path: /c" not in report(r) \
            or not any(l.startswith("field: User-Agent: curl/") for l in report(r)):
        fail("curl http://127.0.0.1:PORT/c?u=rl did not get a report of its request",
             f"curl exited {code}; got: {show(out)}",
             "reproduce by hand: ./httpd 5000   and   curl -i http://127.0.0.1:5000/c?u=rl")


def test_bad_arguments(request, tmp_path):
    path = f"{request.config.getoption('--bin-dir')}/httpd"
    for args in ([], ["x"], ["5000", "--header-timeout"], ["5000", "--header-timeout", "0"],
                 ["5000", "--nope", "1"]):
        code, err = proc.run(path, args, tmp_path)
        if code != 2 or "usage" not in err.lower():
            fail(f"httpd {' '.join(args)}: {proc.describe_status(code)}, stderr {err.strip()[:60]!r}",
                 "expected: a usage line on stderr and exit status 2")
