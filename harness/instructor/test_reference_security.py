"""The reference's security defaults (docs/security.md): it listens on
loopback only, and --allow and --connect-ports hold for a client outside the
ACL, here a second loopback address (127.0.0.2) against --allow
127.0.0.1/32."""
import os
import socket

from kit.client import parse_response, receive
from kit.expect import fail, show

PROGRAM = "proxy"
OUTSIDE = "127.0.0.2"           # loopback, but not in --allow 127.0.0.1/32


def listening_addresses(port):
    """The local addresses (hex, as /proc/net/tcp* has them) of the sockets
    in LISTEN state on port."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hexport = local.rsplit(":", 1)
                if state == "0A" and int(hexport, 16) == port:
                    found.append(address)
    return found


def test_listens_on_loopback_by_default(server):
    addresses = listening_addresses(server.port)
    if addresses != ["0100007F"]:          # 127.0.0.1, little-endian
        fail(f"the proxy started without --bind listens on {addresses} (hex, /proc/net/tcp), "
             "expected 127.0.0.1 only (0100007F)")


def ask_from(address, port, request):
    """Send request to the proxy from a socket bound to address; returns the
    reply, read to the proxy's close."""
    with socket.socket() as s:
        s.settimeout(10)
        s.bind((address, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        return receive(s)


def test_acl_from_an_outside_address(start_program, origin):
    """From 127.0.0.2, with --allow 127.0.0.1/32: a GET and a CONNECT to an
    allowed port get 403, logged TCP_DENIED/403 for 127.0.0.2, and reach
    nothing; the same GET from 127.0.0.1 is served."""
    with socket.create_server(("127.0.0.1", 0)) as tcp:
        tcp.setblocking(False)
        port = tcp.getsockname()[1]
        proxy = start_program(["--allow", "127.0.0.1/32", "--connect-ports", str(port), "{port}"])
        get = f"GET {origin.url('/text/10/acl')} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        connect = f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        for request in (get, connect):
            r = parse_response(ask_from(OUTSIDE, proxy.port, request).data)
            if r is None or r.status != 403:
                fail(f"{request.split(b' ')[0].decode()} from {OUTSIDE}, outside --allow "
                     f"127.0.0.1/32: expected 403, got {show(r.raw if r else b'')}")
        try:
            tcp.accept()[0].close()
            fail(f"a CONNECT from {OUTSIDE}, refused, still reached the origin")
        except BlockingIOError:
            pass
    if origin.requests:
        fail(f"a GET from {OUTSIDE}, refused, still reached the origin")
    r = parse_response(ask_from("127.0.0.1", proxy.port, get).data)
    if r is None or r.status != 200:
        fail(f"the same GET from 127.0.0.1, inside --allow: expected 200, got {r and r.status}")
    with open(os.path.join(proxy.workdir, "log.txt")) as f:
        denied = [l for l in f if f" {OUTSIDE} TCP_DENIED/403 " in l]
    if len(denied) != 2:
        fail(f"log.txt has {len(denied)} TCP_DENIED/403 lines for {OUTSIDE}, expected 2")
