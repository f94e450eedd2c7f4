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


@pytest.mark.parametrize("query,why", [
    ("header=Connection%3A%20close", "the origin said Connection: close"),
    ("fault=close-delimited", "the body ended at the origin's close"),
], ids=["connection-close", "close-delimited"])
def test_not_reused_when_origin_closes(server, origin, query, why):
    """A connection whose response said it would close, or ended by closing,
    carries nothing more."""
    get(server, origin.url(f"/text/50/first?{query}"), f"a response where {why}")
    get(server, origin.url("/text/50/second"), f"the request after a response where {why}")
    first, second = conns(origin, 2)
    if first == second:
        fail(f"after a response where {why}, the next request went on the same connection")


def test_stale_connection_retried(start_program):
    """An origin that closes a kept connection just as the next request comes
    on it: the request goes again on a fresh connection, and the client gets
    its answer, never an error."""
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: no-store\r\n\r\nok"
    proxy = start_program()
    with Scripted(reply, then="close-on-next") as o:
        for what in ("a first request", "a request on the kept connection, which the origin "
                     "closes unanswered"):
            r = get(proxy, f"http://{o.authority}/x", what)
            if r.body != b"ok":
                fail(f"{what}: body {show(r.body)}, expected b'ok'")
        heads = o.wait_for_heads(3)
        if len(heads) != 3:
            fail(f"the origin saw {len(heads)} requests, expected 3: the first, the second "
                 "on the kept connection (dropped), and the second again on a new one")


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
