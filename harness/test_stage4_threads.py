"""Stage 4: the proxy serves many clients at once, with a bound.

Concurrency is proved with the origin stub's hold and release, never with
time: the origin holds one client's response while another client is served.
"""
import socket
import threading

from kit import proc
from kit.client import connect, exchange, parse_response, receive
from kit.expect import fail, show
from kit.origin import body_for

PROGRAM = "proxy"


def request_for(url):
    host = url.split("/")[2]
    return f"GET {url} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


def expect_body(what, reply, path):
    r = parse_response(reply.data)
    if r is None or r.status != 200 or r.body != body_for(path):
        fail(f"{what}: expected 200 and the {len(body_for(path))} bytes of {path}",
             f"got: {show(reply.data)}, {reply.ending()}")


class Client(threading.Thread):
    """A client that sends one request and reads the whole reply, in a thread."""

    def __init__(self, port, url, deadline=20):
        super().__init__(daemon=True)
        self.port, self.url, self.deadline, self.reply = port, url, deadline, None

    def run(self):
        try:
            self.reply = exchange(self.port, request_for(self.url), deadline=self.deadline)
        except OSError as e:
            self.error = e

    def result(self):
        self.join(self.deadline + 5)
        if self.reply is None:
            fail(f"the client for {self.url} got no reply: {getattr(self, 'error', 'it hung')}")
        return self.reply


def test_held_client_blocks_no_one(server, origin):
    """A's response is held at the origin; B, who came after A, is served
    meanwhile. Then A is released and gets its own bytes."""
    a = Client(server.port, origin.url("/bin/20000/a?hold=a"))
    a.start()
    origin.wait_held("a")
    b = exchange(server.port, request_for(origin.url("/bin/30000/b")))
    expect_body("client B, while A's response is held", b, "/bin/30000/b")
    if a.reply is not None:
        fail("client A got its reply before its response was released")
    origin.release("a")
    expect_body("client A, once released", a.result(), "/bin/20000/a")


def test_50_clients_at_once(server, origin):
    """50 clients are all in the proxy at once (each response is held until
    all 50 have reached the origin), and each gets its own bytes."""
    clients = [Client(server.port, origin.url(f"/bin/{1000 + i}/c{i}?hold=c{i}"))
               for i in range(50)]
    for c in clients:
        c.start()
    for i in range(50):
        origin.wait_held(f"c{i}", timeout=60, stall=5)      # fails once requests stop coming
    for i in range(50):
        origin.release(f"c{i}")
    for i, c in enumerate(clients):
        expect_body(f"client {i} of 50", c.result(), f"/bin/{1000 + i}/c{i}")


def test_slow_reader_blocks_no_one(server, origin):
    """A client that reads nothing of a 20 MB response, then one byte at a
    time, does not stop other clients."""
    path = "/bin/20000000/slow"
    with connect(server.port) as slow:
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(request_for(origin.url(path)))
        origin.wait_for_requests(1)
        for _ in range(100):
            slow.recv(1)
        for i in range(3):
            reply = exchange(server.port, request_for(origin.url(f"/text/500/other{i}")))
            expect_body(f"client {i + 1}, while a slow one reads a byte at a time", reply,
                        f"/text/500/other{i}")


def test_no_leak_after_200_requests(start_program, no_pool, origin):
    """After 200 requests, 10 at a time (all 10 in the proxy at once), the
    proxy has as many descriptors as before, and every thread it started
    for them has ended: none leaked."""
    server = start_program(no_pool + ["{port}"])
    pid = server.pid
    fds = proc.fd_table(pid)
    expect_body("a first request", exchange(server.port, request_for(origin.url("/text/10"))),
                "/text/10")
    before = proc.tasks(pid)         # after one request: a sanitizer may add a thread of its own
    maps = proc.mappings(pid)
    for batch in range(20):
        names = [f"b{batch}-{i}" for i in range(10)]
        clients = [Client(server.port, origin.url(f"/text/100/{n}?hold={n}")) for n in names]
        for c in clients:
            c.start()
        for n in names:
            origin.wait_held(n, timeout=5)
        for n in names:
            origin.release(n)
        for c in clients:
            c.result()
    now = proc.wait_quiet(pid, fds, before)
    grown = proc.mappings(pid) - maps
    if grown > 300:
        fail(f"after 200 requests the proxy has {grown} more memory mappings: threads that "
             "end but are neither detached nor joined keep their stacks mapped",
             "make each client thread detached (pthread_attr_setdetachstate)")
    if now != (fds, set()):
        fail(f"after 200 requests the proxy has {len(now[0])} descriptors open (against "
             f"{len(fds)} before) and {len(now[1])} of its client threads still running",
             proc.fd_changes(fds, now[0]),
             "each client thread must end once its client is served, and close its sockets",
             "see: ls -l /proc/$(pgrep -n proxy)/fd /proc/$(pgrep -n proxy)/task")


def test_max_clients_503(start_program, origin):
    """With --max-clients 4 and four clients held, a 5th and 6th get 503 at
    once; once the four are done, clients are served again."""
    proxy = start_program(["{port}", "--max-clients", "4"])
    held = [Client(proxy.port, origin.url(f"/text/100/h{i}?hold=h{i}")) for i in range(4)]
    for i, c in enumerate(held):
        c.start()
        origin.wait_held(f"h{i}", stall=5)
    for n in (5, 6):
        r = parse_response(exchange(proxy.port, request_for(origin.url(f"/text/1/x{n}"))).data)
        if r is None or r.status != 503:
            fail(f"client {n}, with 4 held and --max-clients 4: expected 503 at once, got "
                 + (f"{r.status}" if r else "no response"))
    for i, c in enumerate(held):
        origin.release(f"h{i}")
        expect_body(f"held client {i + 1}, released", c.result(), f"/text/100/h{i}")
    reply = exchange(proxy.port, request_for(origin.url("/text/100/after")))
    expect_body("a client after the held ones are done", reply, "/text/100/after")
