"""The fault catalogue against the reference: bad input from clients,
origins that misbehave, resources that run out. The rows are in
kit/faults.py, and docs/faults.md is written from them.

Every row checks three things: what the client gets; that the proxy goes on
serving (the next client gets its page); and that log.txt has exactly the
row's lines, with the status the client got."""
import contextlib
import select
import socket
import threading

import pytest

from kit import proc
from kit.client import connect, exchange, parse_response, receive
from kit.expect import fail, show
from kit.faults import GET, ROWS
from kit.origin import body_for
from kit.scripted import Scripted, never_reads, refused_port
from test_stage5_log import parse, wait_lines

PROGRAM = "proxy"
ARGS = ["{port}", "--header-timeout", "1", "--timeout", "1"]
EXCHANGES = [r for r in ROWS if not r.run]
BY_NAME = {r.name: r for r in ROWS}


def fill(request, authority, proxy):
    return request.replace(b"{o}", authority.encode()).replace(b"{p}", str(proxy.port).encode())


@contextlib.contextmanager
def origin_for(row, stub, host="127.0.0.1"):
    """The row's origin's authority: a scripted origin if the row has one."""
    if row.origin is None:
        yield stub.authority
    else:
        with Scripted(row.origin, row.then, host) as o:
            yield o.authority


def status_of(reply):
    r = parse_response(reply.data)
    return r.status if r else None


def expect_status(row, sent, reply):
    got = status_of(reply)
    if got != row.status:
        fail(f"{row.given}: expected {row.status}, got {got}", f"sent: {show(sent)}",
             f"got:  {show(reply.data)} ({reply.ending()})")


def close_after(request):
    """request, asking the proxy to close the connection after its answer, so
    that the answer's end is the close, not a deadline."""
    return request.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n", 1)


def expect_next_client(proxy, stub):
    """The proxy still serves: a fresh client gets its page."""
    with connect(proxy.port) as s:
        s.sendall(fill(close_after(GET), stub.authority, proxy))
        reply = receive(s)
    r = parse_response(reply.data)
    if r is None or r.status != 200 or r.body != body_for("/text/10"):
        fail("the next client was not served after the fault",
             f"got: {show(reply.data)} ({reply.ending()})", proxy.explain())


def expect_lines(proxy, statuses, what):
    """log.txt has exactly one line per status in statuses, plus the next
    client's 200 (in any order: the threads write them)."""
    lines, _ = wait_lines(proxy, len(statuses) + 1)
    got = sorted(int(parse(l)["status"]) for l in lines)
    if len(lines) != len(statuses) + 1 or got != sorted(statuses + [200]):
        fail(f"{what}: log.txt should have {len(statuses)} line(s) with status "
             f"{sorted(statuses)}, then the next client's", *["  " + l for l in lines])


@pytest.mark.parametrize("row", EXCHANGES, ids=[r.name for r in EXCHANGES])
def test_catalogue(start_program, origin, row):
    with origin_for(row, origin) as authority:
        proxy = start_program(ARGS)
        sent = fill(row.request, authority, proxy)
        with connect(proxy.port) as s:
            s.sendall(sent)
            reply = receive(s)
        expect_status(row, sent, reply)
        if reply.end != "closed":
            fail(f"{row.given}: after the {row.status}, the connection should close",
                 f"got: {show(reply.data)} ({reply.ending()})")
        expect_next_client(proxy, origin)
        expect_lines(proxy, [row.status] * row.lines, row.given)


def test_ipv6_literal(start_program, origin):
    row = BY_NAME["ipv6_literal"]
    with origin_for(row, origin, host="::1") as authority:
        proxy = start_program(ARGS)
        sent = fill(close_after(row.request), authority, proxy)
        with connect(proxy.port) as s:
            s.sendall(sent)
            reply = receive(s, deadline=5)
        expect_status(row, sent, reply)
        if not reply.data.endswith(b"v6"):
            fail("http://[::1]:port/: the body from the IPv6 origin did not come",
                 f"got: {show(reply.data)}")
        expect_next_client(proxy, origin)
        expect_lines(proxy, [200], row.given)


def test_slowloris(start_program, origin):
    proxy = start_program(ARGS)
    sent = fill(GET[:-2], origin.authority, proxy)     # the head, but not its empty line
    with connect(proxy.port) as s:
        s.sendall(sent)
        reply = receive(s, deadline=10)
    if status_of(reply) != 408 or reply.end != "closed":
        fail("a head that never ends: expected 408 after --header-timeout 1, then a close",
             f"got: {show(reply.data)} ({reply.ending()}, after {reply.seconds:.1f} s)")
    expect_next_client(proxy, origin)
    expect_lines(proxy, [408], "slowloris")


def test_client_gone_mid_request(start_program, origin):
    proxy = start_program(ARGS)
    with connect(proxy.port) as s:
        s.sendall(fill(GET[:20], origin.authority, proxy))
    expect_next_client(proxy, origin)
    expect_lines(proxy, [400], "a client gone mid-head")


def test_client_gone_mid_response(start_program, origin):
    proxy = start_program(ARGS)
    path = "/bin/50000000"
    with connect(proxy.port) as s:
        s.sendall(f"GET {origin.url(path)} HTTP/1.1\r\nHost: {origin.authority}\r\n\r\n".encode())
        if not s.recv(1):
            fail("a 50 MB response: not one byte came")
    expect_next_client(proxy, origin)
    lines, _ = wait_lines(proxy, 2)
    ours = [parse(l) for l in lines if path in l]
    if len(lines) != 2 or len(ours) != 1 or ours[0]["status"] != "200" or \
            int(ours[0]["bytes"]) >= 50000000:
        fail("a client gone mid-response: expected one line for it, status 200, with the "
             "bytes sent before it left", *["  " + l for l in lines])


def test_client_gone_mid_tunnel(start_program, origin):
    with Scripted(b"bye", then="hold") as o:
        proxy = start_program(ARGS + ["--connect-ports", str(o.port)])
        with connect(proxy.port) as s:
            s.sendall(f"CONNECT {o.authority} HTTP/1.1\r\nHost: {o.authority}\r\n\r\n".encode()
                      + b"hello\r\n\r\n")
            reply = receive(s, limit=len(b"HTTP/1.1 200 Connection established\r\n\r\nbye"))
        if not reply.data.endswith(b"bye"):
            fail("CONNECT: expected 200 and the origin's bytes", f"got: {show(reply.data)}")
        expect_next_client(proxy, origin)
        lines, _ = wait_lines(proxy, 2)
        tunnels = [l for l in lines if parse(l)["tag"] == "TCP_TUNNEL"]
        if len(lines) != 2 or len(tunnels) != 1 or parse(tunnels[0])["status"] != "200":
            fail("a client that closed its tunnel: expected one TCP_TUNNEL/200 line",
                 *["  " + l for l in lines])


BIG = 64 << 20          # more than every socket buffer between a client and an origin


def open_tunnel(proxy, port):
    """A client socket tunnelled through the proxy to 127.0.0.1:port."""
    s = connect(proxy.port)
    s.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    established = b"HTTP/1.1 200 Connection established\r\n\r\n"
    reply = receive(s, limit=len(established))
    if reply.data != established:
        s.close()
        fail("CONNECT: expected 200 Connection established", f"got: {show(reply.data)} "
             f"({reply.ending()})")
    return s


def expect_tunnel_closed(proxy, origin, what):
    """The proxy gave up on the tunnel within its --timeout (and the test's
    10 s safety net): one TCP_TUNNEL/200 line, and it serves the next client."""
    lines, _ = wait_lines(proxy, 1)
    if len(lines) != 1 or parse(lines[0])["tag"] != "TCP_TUNNEL":
        fail(f"{what}: the tunnel was not closed and logged within 10 s (--timeout 1)",
             *["  " + l for l in lines], "every write to a peer must give up once it has "
             "waited --timeout (SO_SNDTIMEO), then the tunnel closes both sides", proxy.explain())
    expect_next_client(proxy, origin)
    expect_lines(proxy, [200], what)


def test_origin_never_reads_body(start_program, no_pool, origin):
    """Two uploads of 64 MiB to an origin that takes nothing, with
    --max-clients 2: each ends once a write to the origin has waited
    --timeout (504, or a reset: the client is still sending), both are
    logged, and the slots come back: their threads end, with their
    descriptors, and the next client is served. (Without the origin pool,
    whose idle connections keep descriptors.)"""
    with never_reads() as port:
        proxy = start_program(ARGS + no_pool + ["--max-clients", "2"])
        idle = proc.fd_table(proxy.pid)
        expect_next_client(proxy, origin)   # what a sanitizer starts lazily is running now
        before = proc.tasks(proxy.pid)
        head = (f"POST http://127.0.0.1:{port}/up HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Content-Length: {BIG}\r\n\r\n").encode()
        body = bytes(BIG)
        replies = [None, None]

        def upload(i):
            replies[i] = exchange(proxy.port, head + body, half_close=False, deadline=10)
        uploads = [threading.Thread(target=upload, args=(i,)) for i in range(2)]
        for t in uploads:
            t.start()
        for t in uploads:
            t.join()
        for reply in replies:
            if reply.end == "timeout" or status_of(reply) not in (504, None):
                fail("an upload to an origin that never reads: expected 504 or the connection "
                     "closed, within 10 s (--timeout 1)", f"got: {show(reply.data)} "
                     f"({reply.ending()})", "every write to the origin must give up once it "
                     "has waited --timeout (SO_SNDTIMEO on the origin's socket)")
        fds, threads = proc.wait_quiet(proxy.pid, idle, before)    # the slots are free
        if fds != idle or threads:
            fail("after the uploads ended, the proxy did not get its threads and "
                 f"descriptors back: {len(threads)} threads more than idle",
                 proc.fd_changes(idle, fds))
        expect_next_client(proxy, origin)
        expect_lines(proxy, [200, 504, 504], "two uploads to an origin that never reads")


def test_tunnel_origin_never_reads(start_program, origin):
    """A tunnel's client sends 64 MiB to an origin that takes nothing: the
    tunnel closes once a write to the origin has waited --timeout."""
    with never_reads() as port:
        proxy = start_program(ARGS + ["--connect-ports", str(port)])
        with open_tunnel(proxy, port) as s:
            sender = threading.Thread(target=_send_quietly, args=(s, bytes(BIG)))
            sender.start()
            reply = receive(s, deadline=10)
            if reply.end == "timeout":
                fail("a tunnel whose origin never reads: the proxy kept the tunnel open "
                     "past 10 s (--timeout 1)", "every write to the origin must give up once "
                     "it has waited --timeout (SO_SNDTIMEO on the origin's socket)")
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)        # the sender stops, if it has not
            sender.join()
        expect_tunnel_closed(proxy, origin, "a tunnel whose origin never reads")


def test_tunnel_client_never_reads(start_program, origin):
    """The origin sends 64 MiB into a tunnel whose client reads nothing: the
    tunnel closes once a write to the client has waited --timeout."""
    with Scripted(bytes(BIG), then="hold") as o:
        proxy = start_program(ARGS + ["--connect-ports", str(o.port)])
        with open_tunnel(proxy, o.port) as s:
            s.sendall(b"GO\r\n\r\n")     # the scripted origin answers a head
            expect_tunnel_closed(proxy, origin, "a tunnel whose client never reads")


def _send_quietly(sock, data):
    """sendall, and no error once the peer has gone."""
    with contextlib.suppress(OSError):
        sock.sendall(data)


def test_origin_refuses(start_program, origin):
    row = BY_NAME["origin_refuses"]
    proxy = start_program(ARGS)
    sent = fill(row.request, f"127.0.0.1:{refused_port()}", proxy)
    with connect(proxy.port) as s:
        s.sendall(sent)
        reply = receive(s)
    expect_status(row, sent, reply)
    expect_next_client(proxy, origin)
    expect_lines(proxy, [502], row.given)


@pytest.mark.parametrize("name", [r.name for r in ROWS
                                  if r.run.startswith("test_origin_cut_short[")])
def test_origin_cut_short(start_program, origin, name):
    row = BY_NAME[name]
    with origin_for(row, origin) as authority:
        proxy = start_program(ARGS)
        sent = fill(row.request, authority, proxy)
        with connect(proxy.port) as s:
            s.sendall(sent)
            reply = receive(s, deadline=10)
        expect_status(row, sent, reply)
        body = reply.data.split(b"\r\n\r\n", 1)[1]
        if reply.end not in ("closed", "reset") or not row.origin.endswith(body):
            fail(f"{row.given}: expected the head and the body that came, then a close",
                 f"got: {show(reply.data)} ({reply.ending()})")
        expect_next_client(proxy, origin)
        expect_lines(proxy, [200], row.given)


def test_origin_extra_bytes(start_program, origin):
    row = BY_NAME["origin_extra_bytes"]
    with origin_for(row, origin) as authority:
        proxy = start_program(ARGS)
        with connect(proxy.port) as s:
            s.sendall(fill(row.request, authority, proxy))
            head = receive(s, limit=1, deadline=5).data
            while b"\r\n\r\n" not in head or not head.endswith(b"hello"):
                more = s.recv(4096)
                if not more or len(head) > 4096:
                    fail("more bytes than Content-Length: expected exactly the 5 announced",
                         f"got: {show(head + more)}")
                head += more
            s.sendall(fill(close_after(GET), origin.authority, proxy))
            second = parse_response(receive(s, deadline=5).data)
        if second is None or second.status != 200:
            fail("after a response with extra bytes, the same connection should serve the "
                 "next request", f"got: {second}")
        expect_next_client(proxy, origin)
        expect_lines(proxy, [200, 200], row.given)


def wait_held_or_answered(origin, name, sock, timeout=10):
    """'held' once the origin holds request name, 'answered' once the proxy
    answers sock itself; None if neither happens in time."""
    for _ in range(int(timeout / 0.05)):
        with contextlib.suppress(AssertionError):
            origin.wait_held(name, timeout=0.025)
            return "held"
        if select.select([sock], [], [], 0.025)[0]:
            return "answered"
    return None


def hold_until_refused(proxy, origin, most):
    """Open clients whose requests the origin holds, until one is refused.
    Returns (held sockets, the refused client's reply)."""
    held = []
    for i in range(most):
        s = connect(proxy.port)
        s.sendall(f"GET {origin.url(f'/text/10?hold=h{i}')} HTTP/1.1\r\n"
                  f"Host: {origin.authority}\r\nConnection: close\r\n\r\n".encode())
        state = wait_held_or_answered(origin, f"h{i}", s)
        if state == "answered":
            reply = receive(s)
            s.close()
            return held, reply
        if state is None:
            fail(f"client {i + 1}: neither forwarded nor answered within 10 s", proxy.explain())
        held.append(s)
    fail(f"{most} clients held, and none refused")


def release_all(origin, held):
    for i in range(len(held)):
        origin.release(f"h{i}")
    for s in held:
        with s:
            r = parse_response(receive(s).data)
            if r is None or r.status != 200:
                fail("a held client did not get its 200 once released", f"got: {r}")


def test_descriptors_run_out(start_program, no_pool, origin):
    # Never under valgrind: it keeps descriptors of its own at the top of the
    # table, and hides the real shortage (the sanitizer builds still run it).
    # Without the origin pool, whose idle connections keep descriptors.
    proxy = start_program(ARGS + no_pool, prefix=["prlimit", "--nofile=64", "--"],
                          wrapped=False)
    pid = proxy.pid
    idle = proc.fd_table(pid)
    held, reply = hold_until_refused(proxy, origin, most=40)
    if status_of(reply) != 503:
        fail("with no descriptor left for the origin, expected 503",
             f"got: {show(reply.data)} ({reply.ending()})")
    release_all(origin, held)
    # The descriptors come back as the client threads end; a client that came
    # sooner might find none.
    # (Descriptors only: a sanitizer's runtime may start a thread of its own.)
    fds, _ = proc.wait_quiet(pid, idle, proc.tasks(pid))
    if fds != idle:
        fail("after the held clients left, the proxy did not get its descriptors back",
             f"{len(fds)} open, {len(idle)} when idle: {proc.fd_changes(idle, fds)}")
    expect_next_client(proxy, origin)
    expect_lines(proxy, [200] * len(held) + [503], "descriptors run out")


def test_max_clients(start_program, origin):
    proxy = start_program(ARGS + ["--max-clients", "2"])
    held, reply = hold_until_refused(proxy, origin, most=3)
    if len(held) != 2 or status_of(reply) != 503:
        fail("--max-clients 2: the third client should get 503",
             f"held {len(held)}; got: {show(reply.data)}")
    release_all(origin, held)
    expect_next_client(proxy, origin)
    expect_lines(proxy, [200, 200, 503], "max-clients")


def test_slow_reader(start_program, origin):
    size = 100 << 20
    proxy = start_program(["{port}"])
    idle = proc.memory_kib(proxy.pid, "VmRSS")
    with connect(proxy.port) as s:
        s.sendall(f"GET {origin.url(f'/bin/{size}')} HTTP/1.1\r\nHost: {origin.authority}\r\n"
                  "Connection: close\r\n\r\n".encode())
        got = 0
        while chunk := s.recv(16384):     # small pieces: slower than the origin
            got += len(chunk)
    peak = proc.peak_memory_kib(proxy.pid)
    if got < size or peak - idle > 16 * 1024:
        fail("a slow reader of 100 MiB: expected all of it, with the proxy's memory flat",
             f"got {got} bytes; the proxy's peak RSS grew {peak - idle} KiB (limit 16 MiB)")
    expect_next_client(proxy, origin)
    expect_lines(proxy, [200], "slow reader")
