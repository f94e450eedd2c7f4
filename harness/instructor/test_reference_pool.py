"""The reference's upstream keep-alive pool (solution/pool.h): a connection
to an origin carries one request after another, from any client, while the
origin keeps it open; it is given up whenever it could not carry another
request cleanly. Not a stage: the reference only."""
import pytest

from kit.client import Connection, connect, exchange, parse_response, receive
from kit.expect import fail, show
from kit.origin import body_for
from kit.scripted import Scripted

PROGRAM = "proxy"


def get(proxy, url, what, method="GET", fields=(), body=b""):
    """Ask the proxy for url on a connection of its own; the response, or fail."""
    head = f"{method} {url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    head += "".join(f"{f}\r\n" for f in fields)
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    sent = head.encode() + b"\r\n" + body
    reply = exchange(proxy.port, sent)
    r = parse_response(reply.data)
    if r is None or r.status != 200:
        fail(f"{what}: expected 200, got " + (f"{r.status} {r.reason}" if r else "no response"),
             f"sent: {show(sent)}", f"got:  {show(reply.data)}, {reply.ending()}")
    return r


def conns(origin, n):
    """The origin connections its first n requests came on, in order."""
    return [r.conn for r in origin.wait_for_requests(n)[:n]]


def test_origin_connection_reused(server, origin):
    """Three misses from three clients, one after another, go to the origin
    on one connection, as HTTP/1.1 without Connection: close."""
    for name in ("a", "b", "c"):
        r = get(server, origin.url(f"/text/100/{name}"), f"a miss for /text/100/{name}")
        if r.body != body_for(f"/text/100/{name}"):
            fail(f"the body of /text/100/{name} is not the origin's")
    seen = origin.wait_for_requests(3)
    if len({r.conn for r in seen}) != 1:
        fail(f"three requests one after another reached the origin on connections "
             f"{[r.conn for r in seen]}; expected one connection, reused")
    for r in seen:
        if r.version != "HTTP/1.1" or "close" in (r.header("Connection") or "").lower():
            fail(f"the origin got {r.version} with Connection: {r.header('Connection')}; "
                 "expected HTTP/1.1 without Connection: close")


KEPT = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: no-store\r\n\r\nok"


@pytest.mark.parametrize("reply,why", [
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
     "the origin said Connection: close"),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "the origin spoke HTTP/1.0"),
], ids=["connection-close", "http-1.0"])
def test_not_reused_when_origin_closes(start_program, reply, why):
    """A connection whose response said it would close (or came from an
    HTTP/1.0 origin) carries nothing more, even if the origin leaves it open:
    this origin holds it open and never reads it again, so a proxy that
    reused it would wait for an answer until --timeout (504)."""
    proxy = start_program(["--timeout", "2", "{port}"])
    with Scripted(reply, then="hold") as o:
        for path, what in (("/x", f"a response where {why}"),
                           ("/y", f"the request after a response where {why}")):
            get(proxy, f"http://{o.authority}{path}", what)
        if o.connections != 2:
            fail(f"after a response where {why}, the next request went on the same connection "
                 f"({o.connections} connection(s) for 2 requests)")


def test_stale_connection_retried(start_program):
    """An origin that closes a kept connection just as the next request comes
    on it: the request goes again on a new connection, and the client gets
    its answer, never an error."""
    proxy = start_program()
    with Scripted(KEPT, then="close-on-next") as o:
        for what in ("a first request", "a request on the kept connection, which the origin "
                     "closes unanswered"):
            r = get(proxy, f"http://{o.authority}/x", what)
            if r.body != b"ok":
                fail(f"{what}: body {show(r.body)}, expected b'ok'")
        heads = o.wait_for_heads(3)
        if len(heads) != 3 or o.connections != 2:
            fail(f"the origin saw {len(heads)} requests on {o.connections} connections, expected "
                 "3 on 2: the first, the second on the kept connection (dropped unanswered), and "
                 "the second again on a new one")


@pytest.mark.parametrize("second,status,why", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", 200,
     "sends half a body and closes"),
    (b"HTTP/1.1 OK-ish\r\n\r\n", 502, "sends a garbage status line and closes"),
], ids=["half-body", "garbage-head"])
def test_no_retry_once_a_response_began(start_program, second, status, why):
    """A kept connection on which the origin answers, then fails: the request
    is not sent again (the origin did answer it); the client gets what the
    proxy gives for a failing origin."""
    proxy = start_program()
    with Scripted(KEPT, then="close-on-next", next=second) as o:
        get(proxy, f"http://{o.authority}/x", "a first request")
        sent = f"GET http://{o.authority}/y HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        reply = exchange(proxy.port, sent)
        r = parse_response(reply.data)
        if r is None or r.status != status or reply.end != "closed":
            fail(f"an origin that {why} on a kept connection: expected {status} and a close",
                 f"got: {show(reply.data)}, {reply.ending()}")
        if len(o.heads) != 2 or o.connections != 1:
            fail(f"an origin that {why} on a kept connection got {len(o.heads)} requests on "
                 f"{o.connections} connection(s); expected 2 on 1: a request the origin began "
                 "to answer is not sent again")


def test_credentials_never_share_a_connection(server, origin):
    """A request with Authorization neither takes a pooled connection nor
    leaves its own in the pool: some schemes (NTLM) authenticate the
    connection, and the pool serves every client."""
    get(server, origin.url("/text/10/plain1"), "a GET without credentials")
    get(server, origin.url("/text/10/auth"), "a GET with Authorization",
        fields=["Authorization: Basic dTpw"])
    get(server, origin.url("/text/10/plain2"), "a second GET without credentials")
    first, auth, second = conns(origin, 3)
    if auth == first:
        fail("a request with Authorization went on a pooled connection")
    if second == auth:
        fail("the connection of a request with Authorization went back into the pool")
    if second != first:
        fail("a GET without credentials did not reuse the pooled connection")


def test_post_goes_on_a_fresh_connection(server, origin):
    """A request with a body is never sent on a pooled connection: if that
    connection failed, the body could not be sent again."""
    get(server, origin.url("/text/10/before"), "a GET that leaves a kept connection")
    r = get(server, origin.url("/text/10/post"), "a POST", method="POST", body=b"hello")
    if r.body != body_for("/text/10/post"):
        fail("the POST's response body is not the origin's")
    first, second = conns(origin, 2)
    if first == second:
        fail("a POST went on the connection a GET had left in the pool")
    if origin.requests[1].body != b"hello":
        fail(f"the origin got the POST's body as {show(origin.requests[1].body)}")


def test_client_leaving_mid_response_closes_origin(server, origin):
    """A client that leaves in the middle of a response leaves the rest of it
    unread on the origin connection: that connection is closed, not pooled."""
    path = "/bin/10485760/left"
    with connect(server.port) as s:
        s.sendall(f"GET {origin.url(path)} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        if len(receive(s, limit=65536).data) < 65536:
            fail("the first 64 KiB of a 10 MiB response did not come")
    origin.wait_connections(0)      # fails unless the proxy closes its connection


@pytest.mark.parametrize("size", [2, 0])
def test_origin_pool_bound(start_program, origin, size):
    """--origin-pool 2: five requests served at once leave at most two
    connections open to the origin; --origin-pool 0 keeps none."""
    proxy = start_program(["--origin-pool", str(size), "{port}"])
    clients = [Connection(proxy.port) for _ in range(5)]
    for i, c in enumerate(clients):
        c.send(f"GET {origin.url(f'/text/10/{i}?hold=p')} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    origin.wait_for_requests(5)     # all five held at once, on five connections
    origin.wait_connections(5)
    origin.release("p")
    for i, c in enumerate(clients):
        r = c.read_response()
        if r is None or r.status != 200:
            fail(f"--origin-pool {size}: request {i} of 5 at once was not answered: {c.why}")
        c.close()
    origin.wait_connections(size)   # fails unless the rest are closed


def test_pooled_connection_closed_at_idle_timeout(start_program, origin):
    """--idle-timeout 2: an origin connection left in the pool is closed once
    it has been idle for two seconds, though no request comes after it (the
    origin sees it close within a few seconds more), after a second request
    within that time went on it."""
    idle = 2
    proxy = start_program(["--idle-timeout", str(idle), "{port}"])
    for name in ("a", "b"):
        get(proxy, origin.url(f"/text/10/idle-{name}"), f"a miss for /text/10/idle-{name}")
    first, second = conns(origin, 2)
    if first != second:
        fail("two misses one after another went on two origin connections; expected the "
             "second on the first's, pooled")
    try:
        origin.wait_connections(0, timeout=idle + 5)
        closed = True
    except AssertionError:
        closed = False
    if not closed:
        fail(f"--idle-timeout {idle}: the pooled origin connection was still open "
             f"{idle + 5} s after its last response; expected it closed once idle {idle} s, "
             "without waiting for another request")


def test_pooled_connection_closed_when_origin_ends_it(start_program):
    """An origin that ends an idle pooled connection (it shuts down its side,
    as origins do at their own keep-alive timeout): the proxy closes its
    side at once, and leaves no socket in CLOSE-WAIT until the next request
    or --idle-timeout (60 here)."""
    proxy = start_program(["--idle-timeout", "60", "{port}"])
    with Scripted(KEPT, then="hold") as o:
        r = get(proxy, f"http://{o.authority}/x", "a request whose connection the origin ends")
        if r.body != b"ok":
            fail(f"body {show(r.body)}, expected b'ok'")
        o.end_held()        # the client has its answer and the close: the connection is pooled
        if not o.wait_for_client_closes(1, timeout=5):
            fail("the origin shut down its side of an idle pooled connection, and the proxy "
                 "had not closed its side 5 s later (its socket waits in CLOSE-WAIT); "
                 "expected it closed at once")
