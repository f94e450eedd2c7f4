#!/usr/bin/env python3
"""The sandbox the grader runs student code in.

Every program under test (and the build, and the CUnit runner) is started
inside bubblewrap (bwrap, from Debian) where it can run here:

    bwrap [mounts, namespaces] -- sandbox.py run [--uid UID] [--base DIR] \
        [--as BYTES] -- PROGRAM ARGS...

bubblewrap shows it the system's files read-only (/usr, /etc), a /proc of
its own processes only (a PID namespace: no other submission's command
line), a private /tmp, /dev and /dev/shm (gone when it ends), its own
grade's workspace (DIR) and this file, and nothing else: not solution/,
.git, the kit, the hidden tests, another submission or the grader's
packages. Its environment is cleared (the sanitizers' options are kept).
It shares the network namespace of the grader's pytest, which the grader
runs in a namespace of its own (below), so programs and tests meet on a
loopback no other process can reach. Where bubblewrap cannot run, the
grader says so, loudly, in its output and results (isolation_problems()).

which sets the resource limits of LIMITS (and an address-space limit: the
build's processes BUILD_ADDRESS_SPACE, the programs of plain builds
ADDRESS_SPACE; none for sanitized programs, which reserve terabytes of it),
then, where the grader runs as root, changes to UID, an unused user id of
this grader run alone, before it executes PROGRAM. Root is exempt from
RLIMIT_NPROC, so only under a uid of its own does a fork bomb meet the
limit; where the grader is not root, the limit counts every process of the
user, so it is set to what the user runs now plus NPROC_HEADROOM.

Where the grade has a cgroup (GradeGroup), every program joins its
"programs" pids cgroup first (a shell before bwrap: bwrap shows no cgroup
file), which holds them to NPROC tasks in all and counts each fork it
refuses (pids.events): once it has refused one, a program met the process
limit (a fork bomb), and the grader stops that submission's tests
(forks_refused()). RLIMIT_NPROC is then a backstop above NPROC, so that
the cgroup, which says when it refuses, is the limit met.

Each program runs in its own session and working directory (the pytest
fixture and the grader see to that). The grader makes itself a child
subreaper, so whatever a program leaves behind, even in a session of its
own, stays its descendant; kill_leftovers() kills every descendant, and
every process of the sandbox uid, until none is left.

    sandbox.py net -- COMMAND ARGS...

brings the loopback interface up and executes COMMAND: the grader runs it
under `unshare --net` where it is root, so student code reaches loopback
only.
"""
import ctypes
import fcntl
import functools
import os
import resource
import signal
import socket
import struct
import subprocess
import sys

BWRAP = "/usr/bin/bwrap"
# What a program under test keeps of the grader's environment.
KEPT_ENV = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS", "LSAN_OPTIONS", "LANG")

MIB = 1 << 20
# (resource, soft = hard limit): each program under test.
LIMITS = (
    (resource.RLIMIT_CPU, 60),              # CPU seconds
    (resource.RLIMIT_NOFILE, 1024),         # open descriptors
    (resource.RLIMIT_FSIZE, 32 * MIB),      # bytes of one file written
    (resource.RLIMIT_CORE, 0),              # no core dumps
)
ADDRESS_SPACE = 8 << 30     # plain builds: 200 threads reserve stacks and arenas
# The compiler, the assembler and the linker: the reference's builds need
# under 128 MiB; a compile bomb (nested macros filling an initializer) grows
# cc1 by about 100 MiB a second, into gigabytes, and meets this in seconds.
BUILD_ADDRESS_SPACE = 1 << 30
NPROC = 1024                # processes and threads of a grade's programs, in all
NPROC_HEADROOM = 1024       # not root: over what the user already runs
# What the grader says, and each test it did not run, once a submission's
# programs met the process limit.
FORK_BOMB = "fork bomb: the process limit was reached"
UID_BASE = 1_000_000        # root: the sandbox uid is UID_BASE + the grader's pid
PR_SET_CHILD_SUBREAPER = 36
# One grade in all (the grader, its tests and every process of the
# submission), where the host has cgroups (v1's memory and pids
# controllers): a memory bomb of several processes, or a compiler given a
# program that makes it grow, meets this, not the machine's memory.
GRADE_MEMORY = 4 << 30
GRADE_TASKS = 4096
CGROUPS = "/sys/fs/cgroup"


def sandbox_uid():
    """The uid programs under test run as, or None when not root."""
    return UID_BASE + os.getpid() if os.geteuid() == 0 else None


def tasks_of(uid):
    """How many tasks (threads included) processes of uid have."""
    count = 0
    for pid in _pids():
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                count += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
    return count


def nproc_limit(uid, counted=False):
    """RLIMIT_NPROC for programs under test; counted: a cgroup of NPROC tasks
    holds them, and the rlimit is its backstop."""
    if uid is None:
        return tasks_of(os.getuid()) + NPROC_HEADROOM
    return NPROC + NPROC_HEADROOM if counted else NPROC


def _system_mounts():
    """bwrap arguments for the system's files, read-only: /usr and /etc, and
    /bin, /lib, /lib64, /sbin as they are here (links into /usr, or not)."""
    args = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args


def _parents(path):
    """The directories above path, from the top down, without /."""
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[:i + 1]) for i in range(len(parts))]


def bwrap_prefix(base):
    """The bubblewrap argv prefix that shows a program only the system, base
    (its grade's workspace) and this file; see the module's docstring."""
    env = [a for k in KEPT_ENV if k in os.environ for a in ("--setenv", k, os.environ[k])]
    me, base = os.path.abspath(__file__), os.path.abspath(base)
    above = []              # base's parents, which the sandbox uid passes through
    for parent in _parents(base):
        if parent != "/tmp":
            above += ["--perms", "0711", "--dir", parent]
    return [BWRAP, "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            *_system_mounts(), "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--tmpfs", "/tmp", "--perms", "1777", "--tmpfs", "/dev/shm",
            *above, "--bind", base, base, "--ro-bind", me, me, "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", base,
            "--setenv", "TMPDIR", "/tmp", *env, "--"]


@functools.lru_cache(maxsize=None)
def bwrap_works():
    """Whether bubblewrap runs here as bwrap_prefix asks (it needs root, or
    user namespaces)."""
    if not os.path.exists(BWRAP):
        return False
    try:
        return subprocess.run(bwrap_prefix("/tmp") + ["/usr/bin/true"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class GradeGroup:
    """A cgroup (v1: memory and pids) for one grade, which the grader joins
    so that all it starts is in it; the programs under test are the first
    the OOM killer takes (run() raises their oom_score_adj), and join a pids
    cgroup of their own inside it (.programs, NPROC tasks: join_prefix()).
    `with` it; .problem says why there is none, .oom_kills how often the OOM
    killer struck, .refused how many forks of the programs met the limit."""

    def __init__(self, name):
        self.dirs, self.problem, self.programs = {}, None, None
        self.oom_kills = self.refused = 0
        try:
            for controller, limits in (("memory", {"memory.limit_in_bytes": GRADE_MEMORY}),
                                       ("pids", {"pids.max": GRADE_TASKS})):
                parent = _own_cgroup(controller)
                path = os.path.join(parent, name)
                os.mkdir(path)
                self.dirs[controller] = (parent, path)
                for f, value in limits.items():
                    _write(os.path.join(path, f), value)
            programs = os.path.join(self.dirs["pids"][1], "programs")
            os.mkdir(programs)
            self.programs = programs
            _write(os.path.join(programs, "pids.max"), NPROC)
        except OSError as e:
            self.problem = (f"WARNING: no cgroup for this grade ({e.strerror}: "
                            f"{e.filename}): the total memory and number of processes of a "
                            "submission are not bounded, only each process's")
            self.close()

    def __enter__(self):
        if not self.problem:
            for _, path in self.dirs.values():
                _write(os.path.join(path, "cgroup.procs"), os.getpid())
        return self

    def __exit__(self, *exc):
        self.close()

    def join_prefix(self):
        """The argv prefix that runs a command in the programs' cgroup, or []."""
        if not self.programs:
            return []
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"',
                os.path.join(self.programs, "cgroup.procs")]

    @property
    def events(self):
        """The programs' pids.events (see forks_refused()), or None."""
        return os.path.join(self.programs, "pids.events") if self.programs else None

    def close(self):
        """Leave the cgroup (the caller has killed all it started) and remove it."""
        memory = self.dirs.get("memory")
        if memory:
            self.oom_kills = _oom_kills(memory[1])
        if self.programs:
            self.refused = forks_refused(self.events)
            _rmdir(self.programs)
            self.programs = None
        for parent, path in self.dirs.values():
            try:
                _write(os.path.join(parent, "cgroup.procs"), os.getpid())
            except OSError:
                pass
            _rmdir(path)
        self.dirs = {}


def _rmdir(path):
    try:
        os.rmdir(path)
    except OSError:
        pass            # a process is still in it: the kernel drops it when empty


def forks_refused(events):
    """How many forks the pids cgroup whose pids.events file is events has
    refused at its limit (0 if there is none). v1's pids.events tells no
    poll() or inotify when it changes: those waiting on a program read it."""
    if not events:
        return 0
    try:
        with open(events) as f:
            for line in f:
                if line.startswith("max "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _own_cgroup(controller):
    """This process's cgroup directory of a v1 controller."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            if controller in names.split(","):
                return os.path.join(CGROUPS, controller, path.lstrip("/"))
    raise OSError(2, "no such cgroup controller", controller)


def _write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


def _oom_kills(path):
    """How many processes the OOM killer took in memory cgroup path."""
    try:
        with open(os.path.join(path, "memory.oom_control")) as f:
            for line in f:
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def isolation_problems():
    """What the sandbox cannot do on this host, each in a sentence for the
    grader's output and results: [] where it is whole. Never silent."""
    problems = []
    if not bwrap_works():
        problems.append("WARNING: bubblewrap (bwrap) cannot run here: student code is not "
                        "kept apart from the rest of the machine's files (the kit, its hidden "
                        "tests, other submissions) nor from other processes; install "
                        "bubblewrap 0.5 or later (apt-get install bubblewrap; older ones lack "
                        "--perms), and grade as root or where user namespaces are allowed")
    if not network_wrapper():
        problems.append("WARNING: no network namespace (unshare --net is not allowed here): "
                        "student code can reach every address this machine can")
    if sandbox_uid() is None:
        problems.append("WARNING: the grader is not root: student code runs as the grader's "
                        "own user, and the process limit counts all that user's processes")
    return problems


def wrapper(base, address_space=ADDRESS_SPACE, group=None):
    """The argv prefix that runs a program under test in the sandbox, with
    address_space bytes of it (None: unlimited), in group's programs'
    cgroup if there is one."""
    uid, join = sandbox_uid(), group.join_prefix() if group else []
    cmd = join + (bwrap_prefix(base) if bwrap_works() else []) + [
        "/usr/bin/python3", os.path.abspath(__file__), "run", "--base", base,
        "--nproc", str(nproc_limit(uid, counted=bool(join)))]
    if uid is not None:
        cmd += ["--uid", str(uid)]
    if address_space:
        cmd += ["--as", str(address_space)]
    return cmd + ["--"]


@functools.lru_cache(maxsize=None)
def network_wrapper():
    """The argv prefix that isolates a command's network (loopback only), or
    [] where that cannot be done (not root, or no unshare): isolation_problems
    then says so."""
    if os.geteuid() != 0 or not os.path.exists("/usr/bin/unshare"):
        return ()
    try:
        ok = subprocess.run(["/usr/bin/unshare", "--net", "true"], stderr=subprocess.DEVNULL,
                            timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return ("/usr/bin/unshare", "--net", "--", "/usr/bin/python3", os.path.abspath(__file__),
            "net", "--") if ok else ()


# -- inside the sandbox ----------------------------------------------------------

def open_to(uid, base):
    """Let uid into the working directory: own it, and traverse every
    directory from base down to it. Nothing outside base is touched."""
    cwd, base = os.getcwd(), os.path.realpath(base)
    if not (cwd + "/").startswith(base + "/"):
        sys.exit(f"sandbox: {cwd} is not under {base}")
    os.chown(cwd, uid, uid)
    path = cwd
    while path != base:
        path = os.path.dirname(path)
        os.chmod(path, os.stat(path).st_mode | 0o111)


def run(argv):
    """sandbox.py run ...: limit, drop to the sandbox uid, execute."""
    opts, cmd = _options(argv)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):    # Python ignores them; programs must not
        signal.signal(sig, signal.SIG_DFL)
    for res, value in LIMITS:
        resource.setrlimit(res, (value, value))
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")     # out of memory, the program goes first, not the grader
    except OSError:
        pass
    nproc = int(opts["--nproc"])
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    if "--as" in opts:
        size = int(opts["--as"])
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    if "--uid" in opts:
        uid = int(opts["--uid"])
        open_to(uid, opts["--base"])
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        if os.getresuid() != (uid, uid, uid):
            sys.exit("sandbox: could not change to the sandbox uid")
    os.execvp(cmd[0], cmd)


def _options(argv):
    """({--name: value}, command) from 'run --name value ... -- command'."""
    split = argv.index("--")
    opts = dict(zip(argv[:split:2], argv[1:split:2]))
    return opts, argv[split + 1:]


SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def loopback_up():
    """Bring the loopback interface up (in a new network namespace)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


# -- cleaning up -----------------------------------------------------------------

def become_subreaper():
    """Orphans of our descendants become our children, not init's."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _pids():
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def _stat(pid):
    """(ppid, pgid, state) of pid, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[1]), int(fields[2]), fields[0]
    except (OSError, IndexError, ValueError):
        return None


def leftovers(uid=None):
    """Live descendants of this process, and processes of uid."""
    me, parent, zombie, found = os.getpid(), {}, set(), set()
    for pid in _pids():
        st = _stat(pid)     # read once: the process may be gone a moment later
        if st:
            parent[pid] = st[0]
            if st[2] == "Z":
                zombie.add(pid)
            try:
                if uid is not None and os.stat(f"/proc/{pid}").st_uid == uid and st[2] != "Z":
                    found.add(pid)
            except OSError:
                pass
    for pid in parent:
        p = pid
        while p in parent and p not in (0, 1, me):
            p = parent[p]
        if p == me and pid != me and pid not in zombie:
            found.add(pid)
    return found


def kill_leftovers(uid=None, rounds=1000):
    """SIGKILL every descendant (and every process of uid), their process
    groups first, and reap them, until none is left. Returns how many rounds
    that took (0: there was nothing)."""
    mine = os.getpgid(0)
    for n in range(rounds):
        pids = leftovers(uid)
        if not pids:
            _reap()
            return n
        for pid in pids:
            st = _stat(pid)
            if st and st[1] not in (mine, 0):
                _signal(os.killpg, st[1])
            _signal(os.kill, pid)
        _reap(block=True)
    raise RuntimeError(f"sandbox: processes still alive after {rounds} rounds: {leftovers(uid)}")


def _signal(fn, target):
    try:
        fn(target, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(block=False):
    """Collect our dead children; with block, wait for one if none is dead."""
    while True:
        try:
            pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        block = False


def main(argv):
    if argv[:1] == ["run"]:
        run(argv[1:])
    elif argv[:1] == ["net"]:
        loopback_up()
        cmd = argv[argv.index("--") + 1:]
        os.execv(cmd[0], cmd)
    sys.exit("usage: sandbox.py run [OPTIONS] -- COMMAND... | sandbox.py net -- COMMAND...")


if __name__ == "__main__":
    main(sys.argv[1:])
