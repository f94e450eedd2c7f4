"""Stage 1: the echo server, tested over real sockets.

Each test starts ./echoserver on a free port (the `server` fixture), acts as
one or more clients, and checks every byte that comes back.
"""
import random
import socket
import struct

from kit import proc
from kit.client import connect, exchange, receive
from kit.expect import expect_reply, fail, shell_printer

PROGRAM = "echoserver"


def by_hand(data, sender=None):
    """A shell command that sends data (or runs sender, a shell command that
    prints it) to an echoserver started by hand."""
    sender = sender or shell_printer(data) or f"(the {len(data)} bytes this test sends)"
    return f"./echoserver 5000   then, in another terminal:   {sender} | nc -N 127.0.0.1 5000"


def payload(n, seed):
    """n deterministic bytes of every value, newlines and NULs included."""
    return random.Random(seed).randbytes(n)


def check_echo(server, what, data, host="127.0.0.1"):
    """Send data, close our side, and expect exactly data back."""
    reply = exchange(server.port, data, host=host)
    expect_reply(what, data, data, reply, by_hand(data))


def test_echo_one_line(server):
    check_echo(server, "echo of one line", b"hello\n")


def test_echo_lines(server):
    check_echo(server, "echo of several lines, the last without a newline",
               b"one\ntwo\r\n\nthree is a longer line with spaces\nno newline at the end")


def test_echo_binary(server):
    data = bytes(range(256)) * 4 + b"\0\0\0"
    reply = exchange(server.port, data)
    expect_reply("echo of binary data with NUL bytes", data, data, reply, by_hand(
        data, "python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4 + bytes(3))'"))


def test_echo_long_line(server):
    """A line far longer than the server's line buffer is echoed whole."""
    data = b"x" * 100_000 + b"\n" + b"y" * 20_000
    check_echo(server, "echo of a 100,000-byte line and 20,000 bytes more", data)


def test_echo_10mib(server):
    data = payload(10 << 20, seed=1)
    reply = exchange(server.port, data, deadline=60)
    expect_reply("echo of a 10 MiB binary payload", data, data, reply,
                 "./echoserver 5000   then:   head -c 10M /dev/urandom > in; "
                 "nc -N 127.0.0.1 5000 < in > out; cmp in out")


def test_clients_in_turn(server):
    """A second client that connects while the first is being served gets its
    echo once the first one is done."""
    with connect(server.port) as a, connect(server.port) as b:
        b.sendall(b"I am second\n")
        b.shutdown(socket.SHUT_WR)
        a.sendall(b"I am first\n")
        first = receive(a, limit=len(b"I am first\n"))
        expect_reply("first client, while a second one waits", b"I am first\n",
                     b"I am first\n", first, closed=False)
        a.close()
        second = receive(b)
        expect_reply("second client, after the first closed", b"I am second\n",
                     b"I am second\n", second)
    for i in range(3):
        check_echo(server, f"client {i + 3}, after two others", f"client {i}\n".encode())


def test_client_hangs_up_mid_line(server):
    """A client that sends half a line and hangs up ends its connection only."""
    with connect(server.port) as s:
        s.sendall(b"half a li")
    check_echo(server, "the next client, after one hung up mid-line", b"still here?\n")


def test_client_vanishes_while_server_writes(server):
    """A client that resets the connection while the server is writing to it
    must not kill the server (SIGPIPE) or stop it serving."""
    with connect(server.port) as s:
        s.sendall(payload(1 << 20, seed=2))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    check_echo(server, "the next client, after one vanished mid-transfer", b"still here?\n")


def test_ipv6_client(server):
    check_echo(server, "echo to a client on IPv6 (::1)", b"over IPv6\n", host="::1")


def test_200_clients_no_leak(server):
    """After 200 clients the server has as many descriptors open as before:
    every accepted connection was closed."""
    check_echo(server, "client 1 of 200", b"warm up\n")
    before = proc.open_fds(server.pid)
    for i in range(199):
        data = f"client {i + 2}\n".encode()
        reply = exchange(server.port, data)
        expect_reply(f"client {i + 2} of 200", data, data, reply, by_hand(data))
    after = proc.open_fds(server.pid)
    if after != before:
        fail(f"descriptor leak: {before} open descriptors after the first client, "
             f"{after} after 200 clients",
             "each connection accept() returns must be close()d when its client is done",
             f"see: ls -l /proc/$(pgrep echoserver)/fd   while it runs")


BAD_PORTS = [[], ["abc"], ["0"], ["65536"], ["80x"], ["-1"], ["5000", "extra"]]


def test_bad_port_argument(request, tmp_path):
    """A missing or bad PORT: a usage line on stderr, and exit status 2."""
    path = f"{request.config.getoption('--bin-dir')}/echoserver"
    for args in BAD_PORTS:
        code, err = proc.run(path, args, tmp_path)
        if code != 2 or "usage" not in err.lower():
            fail(f"echoserver {' '.join(args)}: {proc.describe_status(code)}, "
                 f"stderr {err.strip()[:60]!r}",
                 "expected: a line with \"usage\" on stderr, and exit status 2",
                 f"reproduce by hand: ./echoserver {' '.join(args)}; echo \"exit status $?\"")


def test_port_in_use(request, tmp_path):
    """A port already taken: a clear error on stderr, and exit status 1."""
    holder = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    holder.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    with holder:
        holder.bind(("::", 0))
        holder.listen()
        port = holder.getsockname()[1]
        path = f"{request.config.getoption('--bin-dir')}/echoserver"
        code, err = proc.run(path, [str(port)], tmp_path)
    if code != 1 or "in use" not in err:
        fail(f"echoserver PORT, with PORT in use: {proc.describe_status(code)}, "
             f"stderr {err.strip()[:60]!r}",
             "expected: exit status 1, and strerror(errno) on stderr: \"Address already in use\"",
             "reproduce by hand: nc -l 5000 &  ./echoserver 5000; echo \"exit status $?\"")
