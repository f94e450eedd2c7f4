"""The proxy as a service a person runs: it stops cleanly on SIGTERM and
SIGINT, finishing the requests in flight and writing their log lines."""
import os
import signal
import socket
import time

import pytest

from kit import proc
from kit.client import connect, exchange, parse_response, receive
from kit.expect import fail, show
from kit.origin import body_for

PROGRAM = "proxy"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stops_cleanly(server, origin, sig):
    path = "/text/4000/inflight?hold=a"
    with connect(server.port) as a:
        a.sendall(f"GET {origin.url(path)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                  .encode())
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


def test_help_and_version(request, tmp_path):
    path = f"{request.config.getoption('--bin-dir')}/proxy"
    for flag, word in (("--help", "usage"), ("--version", "proxylab")):
        code, out = proc.run_output([path, flag])
        if code != 0 or word not in out.decode(errors="replace"):
            fail(f"proxy {flag}: exit {code}, output {show(out)}; expected exit 0 and {word!r}")


def test_bad_values_exit_2(request, tmp_path):
    path = f"{request.config.getoption('--bin-dir')}/proxy"
    for args in (["--max-clients", "0"], ["--connect-ports", "443,x"], ["--allow", "1.2.3.4/40"],
                 ["--nope"], ["70000"], ["5000", "5001"], ["--timeout"]):
        code, err = proc.run(path, args, tmp_path)
        if code != 2 or not err.strip():
            fail(f"proxy {' '.join(args)}: {proc.describe_status(code)}, stderr {err.strip()[:80]!r}",
                 "expected: a message saying what is wrong, and exit status 2")


def test_allow_refuses_other_clients(start_program, origin):
    """A client outside --allow gets 403, logged TCP_DENIED/403; the origin
    sees nothing."""
    proxy = start_program(["--allow", "10.0.0.0/8", "{port}"])
    reply = exchange(proxy.port, f"GET {origin.url('/text/10')} HTTP/1.1\r\nHost: x\r\n\r\n"
                     .encode())
    r = parse_response(reply.data)
    if r is None or r.status != 403 or origin.requests:
        fail("a client (127.0.0.1) outside --allow 10.0.0.0/8: expected 403, and nothing at "
             f"the origin; got {show(reply.data)}, {len(origin.requests)} at the origin")
    with open(os.path.join(proxy.workdir, "log.txt")) as f:
        if "TCP_DENIED/403" not in f.read():
            fail("the refused client has no TCP_DENIED/403 line in log.txt")


def test_bind_ipv6_loopback(start_program, origin):
    proxy = start_program(["--bind", "::1", "{port}"])
    reply = exchange(proxy.port, f"GET {origin.url('/text/10')} HTTP/1.1\r\nHost: x\r\n\r\n"
                     .encode(), host="::1")
    r = parse_response(reply.data)
    if r is None or r.status != 200:
        fail(f"a client of --bind ::1 over IPv6 got {show(reply.data)}")


def test_client_that_never_reads_is_dropped(start_program, origin):
    """A client that stops reading holds its slot no longer than --timeout:
    with --max-clients 1, the next client is served after it."""
    proxy = start_program(["--max-clients", "1", "--timeout", "1", "{port}"])
    with connect(proxy.port) as lazy:
        lazy.sendall(f"GET {origin.url('/bin/50000000/lazy')} HTTP/1.1\r\nHost: x\r\n\r\n"
                     .encode())
        if not wait_for_line(proxy, "/lazy", timeout=30):
            fail("a client that stopped reading was never given up on: no log line for it "
                 "after 30 s", "writes to a client need a time limit (SO_SNDTIMEO)")
        reply = exchange(proxy.port, f"GET {origin.url('/text/10/next')} HTTP/1.1\r\n"
                         "Host: x\r\n\r\n".encode())
    r = parse_response(reply.data)
    if r is None or r.status != 200:
        fail("after a client that never read, the next one was not served: got "
             f"{show(reply.data)}", "writes to a client need a time limit (SO_SNDTIMEO)")


def wait_for_line(proxy, text, timeout):
    """Whether a line with text appears in the proxy's log within timeout s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(os.path.join(proxy.workdir, "log.txt")) as f:
                if text in f.read():
                    return True
        except FileNotFoundError:
            pass
        time.sleep(0.01)        # polling the file: nothing signals a write
    return False
