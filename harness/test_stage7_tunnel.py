"""Stage 7: CONNECT tunnels. HTTPS goes through the proxy end to end: a TLS
client that checks the origin's certificate (made for the test by openssl)
talks to a local HTTPS origin through the tunnel."""
import random
import socket
import ssl
import threading

import pytest

from kit import proc
from kit.client import connect, exchange, parse_response, receive
from kit.echo import Echo
from kit.expect import fail, first_difference, show
from kit.origin import body_for
from kit.tls import TLSOrigin, make_certs
from test_stage5_log import parse, wait_lines

PROGRAM = "proxy"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def https(certs):
    with TLSOrigin(certs[1], certs[2]) as o:
        yield o


def open_tunnel(proxy, port, host="127.0.0.1"):
    """A socket through which the proxy tunnels to host:port."""
    s = connect(proxy.port)
    s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            break
        head += chunk
    if not head.startswith(b"HTTP/1.1 200") and not head.startswith(b"HTTP/1.0 200"):
        s.close()
        fail(f"CONNECT {host}:{port}: expected 200 Connection established, got {show(head)}",
             f"reproduce by hand: ./proxy 5000 --connect-ports {port} &  "
             f"curl -v -p -x 127.0.0.1:5000 telnet://{host}:{port}")
    return s


def test_https_with_python_ssl(start_program, https, certs):
    proxy = start_program(["{port}", "--connect-ports", str(https.port)])
    raw = open_tunnel(proxy, https.port, "localhost")
    ctx = ssl.create_default_context(cafile=certs[0])
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"GET /text/3000/tls HTTP/1.1\r\nHost: localhost\r\n\r\n")
        r = parse_response(receive(s).data)
    if r is None or r.body != body_for("/text/3000/tls"):
        fail("HTTPS through the tunnel: the page did not come back whole",
             f"got: {show(r.raw if r else b'')}")


def test_https_with_curl(start_program, https, certs):
    proxy = start_program(["{port}", "--connect-ports", str(https.port)])
    url = f"https://localhost:{https.port}/bin/50000/curl"
    code, out = proc.run_output(["curl", "-s", "--cacert", certs[0], "-x",
                                 f"http://127.0.0.1:{proxy.port}", "--noproxy", "", url])
    if code != 0 or out != body_for("/bin/50000/curl"):
        fail(f"curl -x through the proxy to {url} exited {code} with {show(out)}",
             f"reproduce by hand: ./proxy 5000 --connect-ports {https.port} &  "
             f"curl -v --cacert ca.pem -x 127.0.0.1:5000 {url}")


def test_10mib_each_way(start_program):
    echo = Echo()
    try:
        proxy = start_program(["{port}", "--connect-ports", str(echo.port)])
        data = random.Random(7).randbytes(10 << 20)
        s = open_tunnel(proxy, echo.port)
        sender = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
        sender.start()
        got = receive(s, deadline=60)
        sender.join()
        s.close()
    finally:
        echo.close()
    diff = first_difference(data, got.data)
    if diff is not None:
        fail(f"10 MiB each way through one tunnel: the echo differs at {diff}",
             f"got {len(got.data)} bytes, {got.ending()}")


def test_half_close(start_program):
    """The client shuts down its writing side; it still gets everything the
    origin sends after that."""
    tail = b"after your EOF: " + bytes(range(256)) * 100
    echo = Echo(tail=tail)
    try:
        proxy = start_program(["{port}", "--connect-ports", str(echo.port)])
        s = open_tunnel(proxy, echo.port)
        s.sendall(b"some bytes, then EOF")
        s.shutdown(socket.SHUT_WR)
        got = receive(s)
        s.close()
    finally:
        echo.close()
    if got.data != tail or got.end != "closed":
        fail("half-close: after the client's EOF, the origin's answer did not come whole",
             f"expected: {show(tail)}", f"got:      {show(got.data)}, {got.ending()}")


def test_tunnel_logged(start_program):
    """A tunnel's log line: TCP_TUNNEL/200, CONNECT host:port, and as its
    bytes all the client received, the 200 answer's head included."""
    tail = bytes(range(256)) * 20
    echo = Echo(tail=tail)
    try:
        proxy = start_program(["{port}", "--connect-ports", str(echo.port)])
        s = connect(proxy.port)
        s.sendall(f"CONNECT 127.0.0.1:{echo.port} HTTP/1.1\r\nHost: 127.0.0.1:{echo.port}"
                  "\r\n\r\n".encode() + b"ping")
        s.shutdown(socket.SHUT_WR)
        got = receive(s)
        s.close()
    finally:
        echo.close()
    if not got.data.endswith(tail):
        fail("a tunnel: the origin's bytes did not come whole", f"got {show(got.data)}")
    lines, _ = wait_lines(proxy, 1)
    want = ("TCP_TUNNEL", "200", str(len(got.data)), "CONNECT", f"127.0.0.1:{echo.port}")
    e = parse(lines[0]) if len(lines) == 1 else None
    if e is None or (e["tag"], e["status"], e["bytes"], e["method"], e["url"]) != want:
        fail(f"a tunnel whose client received {len(got.data)} bytes ("
             f"{len(got.data) - len(tail)} of the 200 answer, {len(tail)} from the origin): "
             f"expected one log line with {' '.join(want)}",
             *["  " + line for line in lines] or ["  (the log is empty)"],
             "the bytes are everything sent to the client: the 200 answer's head, then "
             "what tunnel_relay counts in *to_client")


def test_refusals(start_program):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        refused = free.getsockname()[1]
    proxy = start_program(["{port}", "--connect-ports", f"443,{refused}"])
    for port, status, what in ((22, 403, "a port not in --connect-ports"),
                               (refused, 502, "an allowed port where nothing listens")):
        reply = exchange(proxy.port, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        r = parse_response(reply.data)
        if r is None or r.status != status:
            fail(f"CONNECT to {what}: expected {status}, got {show(reply.data)}")


def test_tunnel_and_plain_at_once(start_program, origin):
    """An open, idle tunnel blocks no plain request."""
    echo = Echo()
    try:
        proxy = start_program(["{port}", "--connect-ports", str(echo.port)])
        with open_tunnel(proxy, echo.port) as t:
            for i in range(3):
                url = origin.url(f"/text/200/plain{i}")
                r = parse_response(exchange(proxy.port, f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n"
                                            .encode()).data)
                if r is None or r.body != body_for(f"/text/200/plain{i}"):
                    fail("a plain request, while a tunnel is open, did not come back whole")
            t.sendall(b"still open?")
            if receive(t, limit=11).data != b"still open?":
                fail("the tunnel stopped relaying while plain requests were served")
    finally:
        echo.close()


def test_no_leak_after_100_tunnels(start_program):
    echo = Echo()
    try:
        proxy = start_program(["{port}", "--connect-ports", str(echo.port)])
        pid = proxy.pid
        fds = proc.fd_table(pid)
        with open_tunnel(proxy, echo.port):
            pass
        before = proc.tasks(pid)
        for batch in range(10):
            tunnels = [open_tunnel(proxy, echo.port) for _ in range(10)]
            for i, t in enumerate(tunnels):
                t.sendall(b"%d" % i)
                t.shutdown(socket.SHUT_WR)
            for i, t in enumerate(tunnels):
                if receive(t).data != b"%d" % i:
                    fail(f"tunnel {batch * 10 + i}: the echo did not come back")
                t.close()
        now = proc.wait_quiet(pid, fds, before)
    finally:
        echo.close()
    if now != (fds, set()):
        fail(f"after 100 tunnels the proxy has {len(now[0])} descriptors (against {len(fds)}) "
             f"and {len(now[1])} tunnel threads still running", proc.fd_changes(fds, now[0]),
             "each tunnel's thread must end once both sides are done, and close both sockets")


def test_silent_origin_504(start_program):
    """An origin that does not even accept the connection (its queue is
    full, so its SYNs go unanswered) gets 504 once --timeout passes."""
    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        port = full.getsockname()[1]
        queued = []
        for _ in range(3):              # fill the accept queue; later SYNs are dropped
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            queued.append(c)
        proxy = start_program(["{port}", "--connect-ports", str(port), "--timeout", "1"])
        reply = exchange(proxy.port, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n"
                         .encode(), deadline=10)
        for c in queued:
            c.close()
    r = parse_response(reply.data)
    if r is None or r.status != 504:
        fail("CONNECT to an origin that never answers the connection: expected 504 after "
             f"--timeout 1, got {show(reply.data)}, {reply.ending()}")


ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"


def test_200_line_exact(start_program):
    """The answer to CONNECT is exactly the 200 line and an empty line: every
    byte after it is the origin's (a TLS client takes the first byte after
    the empty line for the server's)."""
    echo = Echo()
    try:
        proxy = start_program(["{port}", "--connect-ports", str(echo.port)])
        with connect(proxy.port) as s:
            s.sendall(f"CONNECT 127.0.0.1:{echo.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            try:
                first = s.recv(4096)    # the answer (what is more is the relay's)
            except socket.timeout:
                fail("CONNECT: expected HTTP/1.1 200 Connection established, "
                     "got nothing for 5 s")
            if not first or not first.startswith(ESTABLISHED[:len(first)]):
                fail("CONNECT: expected HTTP/1.1 200 Connection established",
                     f"got: {show(first)}")
            s.sendall(b"ping")          # sent after the answer, so it goes through the relay
            s.shutdown(socket.SHUT_WR)
            rest = receive(s)
    finally:
        echo.close()
    got = first + rest.data
    if got != ESTABLISHED + b"ping":
        fail("CONNECT: expected exactly the answer then the origin's echo of our 4 bytes",
             f"expected: {show(ESTABLISHED + b'ping')}",
             f"got:      {show(got)}, {rest.ending()}",
             'the answer is "HTTP/1.1 200 Connection established\\r\\n\\r\\n" and not a byte '
             "more (its NUL: sizeof counts it) nor less (the empty line ends the head)")


def test_bytes_behind_the_head(start_program):
    """A client may send its first bytes (a TLS ClientHello) with the CONNECT
    head, in one write, without waiting for the 200: reading the head, the
    proxy has them in rio's buffer already, and must send them on first."""
    echo = Echo()
    early = b"\x16\x03\x01 a ClientHello, right behind the head"
    try:
        proxy = start_program(["{port}", "--connect-ports", str(echo.port)])
        reply = exchange(proxy.port, f"CONNECT 127.0.0.1:{echo.port} HTTP/1.1\r\nHost: x\r\n"
                         "\r\n".encode() + early)
    finally:
        echo.close()
    if reply.data != ESTABLISHED + early:
        fail("CONNECT with the client's first bytes in the same write as the head: expected "
             "the 200, then the origin's echo of those bytes",
             f"expected: {show(ESTABLISHED + early)}",
             f"got:      {show(reply.data)}, {reply.ending()}",
             "the bytes rio read past the head (rp->cnt of them, at rp->next) go to the origin "
             "before the relay starts")
