"""Stage 1: the echo server, tested over real sockets.

Each test starts ./echoserver on a free port (the `server` fixture), acts as
one or more clients, and checks every byte that comes back.
"""
import os
import random
import resource
import socket
import struct
import subprocess
import time

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


def _connection_listed(port, peer_port):
    """Whether the kernel still lists a TCP connection from local port to
    peer_port (it drops one from its tables once a reset reaches it)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = [line.split() for line in f.readlines()[1:]]
        except OSError:
            continue
        if any(int(r[1].rsplit(":", 1)[1], 16) == port and
               int(r[2].rsplit(":", 1)[1], 16) == peer_port for r in rows):
            return True
    return False


RESET_BY_HAND = ("./echoserver 5000; in a second terminal nc 127.0.0.1 5000 (leave it open); "
                 "in a third: python3 -c 'import socket, struct; s = socket.create_connection("
                 "(\"127.0.0.1\", 5000)); s.sendall(b\"hello\\n\"); s.setsockopt(socket.SOL_SOCKET, "
                 "socket.SO_LINGER, struct.pack(\"ii\", 1, 0)); s.close()'; then end the nc "
                 "(Ctrl-D), and watch with strace -p $(pgrep echoserver)")


def test_write_fails_for_one_client_only(server):
    """A client that resets its connection before the server echoes its line
    makes the server's write fail (ECONNRESET), every time: the reset comes
    while the client waits in the listen queue behind another. That ends the
    client's connection only, never the server."""
    line = b"a line whose echo cannot be written\n"
    with connect(server.port) as first:
        first.sendall(b"first\n")
        reply = receive(first, limit=6)
        expect_reply("the first client", b"first\n", b"first\n", reply, closed=False)
        # The server now waits for the first client's next line; the second waits its turn.
        with connect(server.port) as second:
            second_port = second.getsockname()[1]
            second.sendall(line)
            second.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        deadline = time.monotonic() + 2     # loopback delivers the reset at once: a safety net
        while _connection_listed(server.port, second_port) and time.monotonic() < deadline:
            time.sleep(0.001)
    # The first client has gone: the server takes the second, reads its
    # line, and its write of the echo fails.
    try:
        reply = exchange(server.port, b"still here?\n")
    except OSError as e:
        reply = None
        error = e
    if reply is None or reply.data != b"still here?\n":
        try:
            server.proc.wait(timeout=2)     # it may be on its way out
        except subprocess.TimeoutExpired:
            pass
        if not server.running():
            server.expected_exit = True     # said here, not again after the test
            fail(f"echoserver {proc.ended(server.proc.returncode)} when its write to "
                 "a client that had reset the connection failed",
                 "the client sent a line and reset the connection before the server took it; "
                 "the server read the line, and its write of the echo failed (ECONNRESET)",
                 "expected: a write that fails ends that client's connection only: return from "
                 "echo, close the descriptor, serve the next client; never exit()",
                 server.stderr_excerpt(),
                 f"reproduce by hand: {RESET_BY_HAND}")
        if reply is None:
            fail(f"the next client, after one whose echo could not be written: {error}",
                 server.explain())
    expect_reply("the next client, after one whose echo could not be written",
                 b"still here?\n", b"still here?\n", reply, by_hand(b"still here?\n"))


EXIT_WAIT = 3.0     # seconds echoserver has to exit once accept fails for good


def _cpu_seconds(pid):
    """The CPU time process pid has used so far, in seconds (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ids(pid, field):
    """Process pid's real, effective and saved ids, from the "Uid:" or "Gid:"
    line of /proc/PID/status."""
    with open(f"/proc/{pid}/status") as f:
        line = next(l for l in f if l.startswith(field + ":"))
    return [int(x) for x in line.split()[1:4]]


def _lower_fd_limit(pid, soft):
    """Lower process pid's soft limit on descriptors (RLIMIT_NOFILE) to soft.
    The grader runs programs under a uid of their own, and its root may lack
    CAP_SYS_RESOURCE (a container's does): then a child process takes the
    program's uid and gid, as prlimit(2) allows the process's own user. Raises
    OSError if neither way works."""
    try:
        hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)[1]
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        return
    except PermissionError:
        if os.geteuid() != 0:
            raise
    uids, gids = _ids(pid, "Uid"), _ids(pid, "Gid")
    if len(set(uids)) != 1 or len(set(gids)) != 1:
        raise PermissionError(f"process {pid}'s uids {uids} or gids {gids} differ")
    child = os.fork()
    if child == 0:                      # do nothing here but this, then _exit
        code = 1
        try:
            os.setgroups([])
            os.setresgid(gids[0], gids[0], gids[0])
            os.setresuid(uids[0], uids[0], uids[0])
            hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)[1]
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
            code = 0
        finally:
            os._exit(code)
    if os.waitpid(child, 0)[1] != 0:
        raise PermissionError(f"prlimit on process {pid} failed, as root and as uid {uids[0]}")


def test_accept_failure_ends_server(server):
    """An accept that fails because of the listener or the process, not one
    client, fails again at once if called again. Here it is EMFILE: the test
    lowers the server's descriptor limit (prlimit) so that none is left for a
    client. serve must then return -1, and main reports it and exits with
    status 1; a loop that calls accept again, or closes the listener and goes
    on, spins at full CPU for ever."""
    pid = server.pid
    open_fds = set(proc.fd_table(pid))
    lowest_free = min(n for n in range(len(open_fds) + 1) if n not in open_fds)
    try:
        _lower_fd_limit(pid, lowest_free)
    except OSError as e:
        fail(f"the test could not lower echoserver's descriptor limit: {e}",
             "this is a problem of the test's machine, not of your code")
    server.expected_exit = True
    # An accept already waiting took its descriptor before the limit came
    # down: one more client unblocks it, and the accept after that fails.
    # Without one waiting, the next accept fails at once: this client is then
    # refused or reset, which is fine too.
    try:
        exchange(server.port, b"the last client\n", deadline=EXIT_WAIT)
    except OSError:
        pass
    cpu = _cpu_seconds(pid)
    try:
        code = server.proc.wait(timeout=EXIT_WAIT)
    except subprocess.TimeoutExpired:
        code = None
    if code == 1:
        return
    if code is None:
        used = _cpu_seconds(pid) - cpu
        fail(f"echoserver is still running {EXIT_WAIT:g} s after accept failed with EMFILE, "
             + (f"and used {used:.1f} s of CPU in that time: it is spinning" if
                used > EXIT_WAIT / 2 else "without exiting"),
             f"the test lowered its descriptor limit to {lowest_free} (prlimit), so that "
             "accept(2) has no descriptor to give, and calling it again fails again at once",
             "expected: sock_accept returns -1 (EMFILE is not about one client), serve "
             "returns -1, and main reports it and exits with status 1",
             "its listening socket is " + ("still open" if server.listening() else
                                          "closed, yet it goes on"),
             "reproduce by hand: ./echoserver 5000 & prlimit --pid $! --nofile=4; "
             "nc -N 127.0.0.1 5000 </dev/null; top -p $!")
    fail(f"echoserver {proc.ended(code)} after accept failed with EMFILE, "
         "expected exit status 1",
         "expected: serve returns -1, and main reports the error and exits with status 1",
         server.stderr_excerpt())


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
