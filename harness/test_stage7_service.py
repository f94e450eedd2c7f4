"""The proxy as a service a person runs: it stops cleanly on SIGTERM and
SIGINT, finishing the requests in flight and writing their log lines."""
import os
import signal
import socket

import pytest

from kit.client import connect, parse_response, receive
from kit.expect import fail, show
from kit.origin import body_for

PROGRAM = "proxy"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stops_cleanly(server, origin, sig):
    path = "/text/4000/inflight?hold=a"
    with connect(server.port) as a:
        a.sendall(f"GET {origin.url(path)} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        origin.wait_held("a")
        server.send_signal(sig)
        origin.release("a")
        reply = receive(a)
    r = parse_response(reply.data)
    if r is None or r.body != body_for(path):
        fail(f"a request in flight when the proxy got {sig.name} was cut off",
             f"got: {show(reply.data)}, {reply.ending()}")
    try:
        code = server.proc.wait(timeout=20)
    except Exception:
        code = None
    if code != 0:
        fail(f"after {sig.name} and the last request, the proxy did not exit with status 0 "
             f"(status {code})", server.stderr_excerpt())
    with open(os.path.join(server.workdir, "log.txt")) as f:
        if "inflight" not in f.read():
            fail(f"the request finished after {sig.name} has no line in log.txt")
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", server.port)) == 0:
            fail(f"the proxy still accepts connections after {sig.name}")
