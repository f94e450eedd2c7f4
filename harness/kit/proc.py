"""Start a program under test on a free port, wait until it listens, stop it.

A Program runs in its own process group, in a directory of its own, with its
stdout and stderr in files there. It is ready when a socket of its process
group is in the LISTEN state on its port (read from /proc, so no probe
connection ever reaches the program). If it exits saying the address is in
use, it is started again on another port. stop() kills the whole group.
"""
import os
import re
import signal
import socket
import subprocess
import time

from kit import sandbox

SANITIZER_REPORT = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|runtime error:|"
    r"^==\d+== (Invalid |Conditional jump|Use of uninitialised|Syscall param|Mismatched|"
    r"Source and destination overlap|.* definitely lost)", re.M)
ADDRESS_IN_USE = re.compile(r"in use", re.I)


# argv prefix for every program under test that run() starts: the grader's
# sandbox (see kit/sandbox.py); conftest.py sets it from --sandbox.
SANDBOX = []
# The pids.events file of the cgroup programs under test run in (the
# grader's; conftest.py sets it from --pids-events): see limit_reached().
PIDS_EVENTS = []
LIMIT_POLL = 0.05           # seconds between looks at it while a program runs


class ProgramError(Exception):
    """The program could not be started, or misbehaved at its start."""


def stop_on_signals(program):
    """Make SIGTERM and SIGINT (even where a shell started program in the
    background with SIGINT ignored) end it through its finally clauses, so
    that the servers it started are stopped, not left running."""
    def leave(sig, frame):
        raise SystemExit(f"{program}: stopped by signal {sig}")
    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGINT, leave)


def limit_reached():
    """Whether a program under test has met the process limit (a fork bomb):
    the grader's cgroup has refused a fork. Never outside the grader."""
    return bool(PIDS_EVENTS) and sandbox.forks_refused(PIDS_EVENTS[0]) > 0


def free_port():
    """A TCP port that is free on every local address right now."""
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", 0))
    except OSError:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("0.0.0.0", 0))
    with s:
        return s.getsockname()[1]


def _listening_inodes(port):
    """Inodes of the sockets in LISTEN state on port, IPv4 or IPv6."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _group_pids(pgid):
    """The processes of process group pgid."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[2]) == pgid:
                pids.append(int(name))
    return pids


def _exe(pid):
    """The file process pid runs, or None if that cannot be read."""
    try:
        return os.path.realpath(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return None


def _depth(pid, top):
    """How many parents lead from pid up to top (a large number if none do)."""
    depth = 0
    while pid != top and depth < 64:
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return 1 << 20
        depth += 1
    return depth if pid == top else 1 << 20


def _socket_inodes(pid):
    """Inodes of the sockets process pid has open."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        pass
    return inodes


def describe_status(code):
    """A returncode from subprocess, in words."""
    if code is None:
        return "still running"
    if code < 0:
        sig = -code
        return f"killed by signal {sig} ({signal.Signals(sig).name})"
    return f"exited with status {code}"


def ended(code):
    """How a program ended, in words that follow its name or "it": "exited
    with status 1", "was killed by signal 11 (SIGSEGV)", "is still running"."""
    if code is None:
        return "is still running"
    return ("was " if code < 0 else "") + describe_status(code)


class Program:
    """One run of a program under test. Use start() and stop(), or `with`."""

    def __init__(self, path, args, workdir, env=None, wrapper=(), startup_timeout=10):
        self.path = os.path.abspath(path)
        self.name = os.path.basename(self.path)
        self.args = list(args)          # "{port}" in an argument becomes the port
        self.workdir = str(workdir)
        self.env = env
        self.wrapper = list(wrapper)    # e.g. ["valgrind", "-q"]
        self.startup_timeout = startup_timeout
        self.proc = None
        self._pid = None
        self.port = None
        self.stopped_by_us = False
        self.expected_exit = False
        self.runs = 0

    # -- starting -------------------------------------------------------------

    def command(self, port):
        """The command line for a run on port."""
        return self.wrapper + [self.path] + [a.replace("{port}", str(port)) for a in self.args]

    def spawn(self, port):
        """Start the process on port, without waiting for it to listen."""
        self.runs += 1
        self.port = port
        self.stdout_path = os.path.join(self.workdir, f"{self.name}.{self.runs}.stdout")
        self.stderr_path = os.path.join(self.workdir, f"{self.name}.{self.runs}.stderr")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.command(port), cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=err, start_new_session=True)
        return self.proc

    def start(self, tries=5):
        """Start on a free port and wait until it listens; returns self."""
        if not os.access(self.path, os.X_OK):
            raise ProgramError(f"{self.path} does not exist or is not executable: run make first")
        for _ in range(tries):
            self.spawn(free_port())
            try:
                if self.wait_listening():
                    return self
            except BaseException:   # the test's time limit, say: leave nothing running
                self.stop(grace=0)
                raise
            if not ADDRESS_IN_USE.search(self.stderr()):
                break
        last = (self.stderr().strip().splitlines() or ["(nothing on stderr)"])[-1]
        raise ProgramError(
            f"{self.name} {ended(self.proc.returncode)} before it listened "
            f"on its port: {last}\n  command: {' '.join(self.command(self.port))}\n"
            + self.stderr_excerpt())

    def listening(self):
        """Whether a process of the program's group listens on its port."""
        wanted = _listening_inodes(self.port)
        if not wanted:
            return False
        return any(wanted & _socket_inodes(pid) for pid in _group_pids(self.proc.pid))

    def wait_listening(self):
        """Wait until the program listens (True) or exits (False)."""
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.listening():
                return True
            if limit_reached():
                raise ProgramError(f"{sandbox.FORK_BOMB} ({sandbox.NPROC} processes and threads "
                                   f"in all) while {self.name} started: no further test runs")
            try:
                self.proc.wait(timeout=0.01)    # wakes at once if it exits
                return False
            except subprocess.TimeoutExpired:
                pass
        self.stop()
        raise ProgramError(f"{self.name} did not listen on port {self.port} within "
                           f"{self.startup_timeout} s.\n" + self.stderr_excerpt())

    # -- watching -------------------------------------------------------------

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        """The program's own process id, for /proc: behind the grader's
        sandbox (bubblewrap forks twice: its reaper, then the program, in a
        PID namespace) the process started is not the program. The
        shallowest process of the run's group that runs the program's file;
        else, as under valgrind, whose tool runs in place of the file, the
        process started."""
        if self._pid is None:
            path = os.path.realpath(self.path)
            own = [p for p in _group_pids(self.proc.pid) if _exe(p) == path]
            self._pid = min(own, key=lambda p: _depth(p, self.proc.pid), default=self.proc.pid)
        return self._pid

    def send_signal(self, sig):
        """Send the program sig, expecting it to exit: its exit is then no
        failure of the test by itself."""
        self.expected_exit = True
        os.kill(self.pid, sig)

    def stderr(self, limit=1 << 20):
        """The program's stderr so far: its first limit characters."""
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read(limit)
        except (OSError, AttributeError):
            return ""

    def stderr_excerpt(self, lines=15):
        text = self.stderr().rstrip("\n").splitlines()
        if not text:
            return f"  ({self.name} wrote nothing on stderr)"
        shown = text[-lines:]
        more = f"  ({len(text) - lines} earlier lines not shown)\n" if len(text) > lines else ""
        return f"  {self.name}'s stderr:\n" + more + "".join(f"    | {l[:300]}\n" for l in shown)

    def explain(self):
        """A sentence on the program's state, for failure messages."""
        if self.running():
            return f"{self.name} is still running on port {self.port}."
        return (f"{self.name} is no longer running: it {ended(self.proc.returncode)}.\n"
                + self.stderr_excerpt())

    def sanitizer_report(self):
        """The first lines of a sanitizer or valgrind report on stderr, or None."""
        text = self.stderr()
        m = SANITIZER_REPORT.search(text)
        if not m:
            return None
        return "\n".join(text[m.start():].splitlines()[:25])

    # -- stopping -------------------------------------------------------------

    def stop(self, grace=5):
        """Kill the program's process group: SIGTERM, then SIGKILL after grace s."""
        if self.proc is None:
            return
        was_running = self.proc.poll() is None
        self.stopped_by_us = self.stopped_by_us or was_running
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self._reap_group()

    def _reap_group(self):
        """SIGKILL whatever is left of the group (children the program forked)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def run(path, args, cwd, timeout=10):
    """Run a program to its end in its own process group; returns (returncode,
    stderr text: its first MiB). A program still running after timeout s is
    killed, and returncode is then None. Its stderr goes to a file in cwd."""
    err_path = os.path.join(str(cwd), f"{os.path.basename(path)}.run.stderr")
    with open(err_path, "wb") as err, subprocess.Popen(
            SANDBOX + [os.path.abspath(path)] + list(args), cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=err, start_new_session=True) as proc:
        try:
            code = _wait(proc, timeout)
        finally:        # also when the test's own time limit interrupts the wait
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    with open(err_path, "rb") as f:
        return code, f.read(1 << 20).decode(errors="replace")


def _wait(proc, timeout):
    """proc's returncode once it exits, or None after timeout s or once the
    process limit is reached (a fork bomb never exits)."""
    deadline = time.monotonic() + timeout
    while not limit_reached():
        try:
            return proc.wait(timeout=min(LIMIT_POLL, max(0.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                return None
    return None


def open_fds(pid):
    """How many descriptors process pid has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def fd_table(pid):
    """Process pid's open descriptors, {number: what it is} as /proc names it
    ('socket:[123]', 'pipe:[45]', a path). Under valgrind the table also holds
    valgrind's own descriptors, at the top of the range (its log, the
    program's file, vgdb's FIFO): opened at start, so they are in every table."""
    table = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            table[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue                    # closed meanwhile
    return table


def fd_changes(was, now):
    """What differs between two fd_table()s, in words ('' if nothing): each
    descriptor opened or closed since, by number and name."""
    opened = [f"{fd} ({now[fd]})" for fd in sorted(now) if was.get(fd) != now[fd]]
    closed = [f"{fd} ({was[fd]})" for fd in sorted(was) if now.get(fd) != was[fd]]
    return "; ".join(([f"{len(opened)} opened since: " + ", ".join(opened[:8])
                       + (", ..." if len(opened) > 8 else "")] if opened else [])
                     + ([f"{len(closed)} closed since: " + ", ".join(closed[:8])] if closed else []))


def run_output(argv, timeout=30):
    """Run a client program (curl, say) to its end; returns (returncode, stdout
    bytes). A run past timeout s is killed and returns None."""
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=timeout)
        return r.returncode, r.stdout
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or b""


def memory_kib(pid, field="VmHWM"):
    """A memory figure of process pid from /proc/PID/status, in KiB: VmHWM
    (peak resident, the default), VmRSS, VmSize (virtual)..."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def peak_memory_kib(pid):
    """The peak resident memory of process pid so far (VmHWM), in KiB."""
    return memory_kib(pid)


def tasks(pid):
    """The thread ids of process pid."""
    return set(os.listdir(f"/proc/{pid}/task"))


def sockets_to(pid, ports):
    """The descriptors of process pid (a set of numbers) that are TCP
    connections whose far end is on one of ports: between requests, the
    reference's idle origin connections, kept in its pool (solution/pool.h)."""
    table = fd_table(pid)
    inodes = {link[len("socket:["):-1]: fd for fd, link in table.items()
              if link.startswith("socket:[")}
    found = set()
    for name in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{name}") as f:
            next(f)                     # the column names
            for fields in (line.split() for line in f):
                if int(fields[2].rsplit(":", 1)[1], 16) in ports and fields[9] in inodes:
                    found.add(inodes[fields[9]])
    return found


def wait_quiet(pid, fds, before, timeout=10, ignore=None):
    """Wait until pid's fd_table() is fds again (leaving out the descriptors
    in the set ignore() returns, if given) and no thread is running that is
    not in before: every thread started since has ended, and closed what it
    opened. Returns (fd table, new threads); they are (fds, set()) unless
    timeout s passed first."""
    deadline = time.monotonic() + timeout
    while True:
        skip = ignore() if ignore else set()
        now = ({fd: link for fd, link in fd_table(pid).items() if fd not in skip},
               tasks(pid) - before)
        if (now[0] == fds and not now[1]) or time.monotonic() > deadline:
            return now
        time.sleep(0.01)        # polling /proc: nothing signals a thread's end


def mappings(pid):
    """How many memory mappings process pid has (lines of /proc/PID/maps)."""
    with open(f"/proc/{pid}/maps") as f:
        return sum(1 for _ in f)
