#!/usr/bin/python3
"""make soak: load the reference proxy with a bounded mix of requests on
loopback, then check that it is as it was before, and that it logged every
request it answered, once.

    harness/instructor/soak.py [--requests N] [--clients C] [--seconds S] [--min-requests M]
                    [--cache-mib C] [--rss-bound-mib B] [--proxy PATH | --san SAN]
                    [--json FILE] [--keep]

C client threads (64) send requests until N (100,000) have been sent, or S
seconds (600) have passed; fewer than M sent (default: N) fails the run. Each
client opens one connection after another (a "session") and picks what to do
with it by a seeded random choice (SESSIONS below): several keep-alive
requests (cache hits, misses, chunked responses, POSTs with Content-Length
or chunked bodies, HEAD, 404 and 503 passed on from the origin), a request
the proxy refuses (400, 505), a request to a refused port (502), a CONNECT
to a port not allowed (403), tunnels to a TCP echo origin or through TLS to
an HTTPS origin, and abrupt disconnects: mid-response, mid-tunnel, mid-head.
Every response is parsed and checked: status, framing, and the body's bytes.

The origins (the harness's origin stub, an HTTPS origin with a throwaway CA,
a TCP echo server) run in a second process (this script with --origins), so
that they do not share the clients' interpreter lock.

The idle counts of descriptors and threads are taken after one warm-up
request. At the end, the run fails unless:
  - no client saw a wrong answer, and the proxy is still running;
  - its descriptors and threads come back to their idle counts (waited for);
  - its peak resident memory (VmHWM) is under --rss-bound-mib (by default
    the cache's size and 48 MiB; 4 GiB with --san);
  - log.txt has one well-formed line per answered request, and the lines
    are, as a multiset of (tag, method, URL, status, bytes), exactly what the
    clients saw (bytes only where the client read the whole answer);
  - every kind of session ran, and (with a cache) some requests were hits;
  - it exits 0 on SIGTERM, with no sanitizer report on its stderr, and the
    origins report no error of their own.
See docs/soak.md.

"Answered" means: the proxy read the request's whole head, so it owes the
log a line, whether or not the client stayed to read the answer. A client
that disconnects abruptly (an RST) does so only after it has received the
first bytes of the answer (the status line, or a tunnel's "200 Connection
established"): then the proxy has surely read the head, and the line is
expected, with the status the client saw but with a byte count the client
cannot know. A client that stops mid-head closes with a FIN: the proxy reads
the end of the stream and answers 400 (logged "NONE error:invalid-request")
to a client that has gone. A kept-alive connection that the client closes
between requests carries no request, and gets no line.
"""
import argparse
import collections
import itertools
import json
import os
import random
import re
import selectors
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))  # harness/instructor/
HARNESS = os.path.dirname(HERE)
sys.path.insert(0, HARNESS)

import check  # noqa: E402
from kit import proc  # noqa: E402
from kit.client import Reader, ResponseError  # noqa: E402
from kit.echo import Echo  # noqa: E402
from kit.origin import Origin, body_for  # noqa: E402
from kit.tls import TLSOrigin, make_certs  # noqa: E402

PROXY = os.path.join(os.path.dirname(HARNESS), "solution", "proxy")
CACHE_MIB = 16                  # the proxy's --cache-size: small, so that misses evict
RSS_ALLOWANCE_MIB = 48          # the RSS bound is the cache's size and this (docs/soak.md)
IO_TIMEOUT = 30                 # seconds any client read may wait: a safety net
MAX_FAILURES = 100               # this many wrong answers end the run early
QUIET_TIMEOUT = 30              # seconds to wait for descriptors and threads
ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"

# Squid's native format, as test_stage5_log.py reads it.
LOG_LINE = re.compile(
    r"^(?P<time>\d+\.\d{3}) +(?P<elapsed>\d+) (?P<client>\S+) "
    r"(?P<tag>NONE_NONE|TCP_MISS|TCP_HIT|TCP_DENIED|TCP_TUNNEL)/(?P<status>\d{3}) "
    r"(?P<bytes>\d+) (?P<method>\S+) (?P<url>\S+) - (?P<hier>HIER_DIRECT|HIER_NONE)/"
    r"(?P<peer>\S+) (?P<type>\S+)$")
HIT_OR_MISS = "TCP_HIT|TCP_MISS"    # a hot URL's tag: the cache decides

HOT_PATHS = ["/text/100/hot", "/text/1000/hot", "/bin/10000/hot", "/bin/60000/hot"]
MISS_PATHS = ["/text/200/miss", "/bin/5000/miss", "/text/50000/miss"]
BIG_PATH = "/bin/1500000/big"   # over --max-object: never cached; clients abort it


class Unexpected(Exception):
    """A client saw an answer it should not have."""


# --------------------------------------------------------------------------
# The origins, in a process of their own
# --------------------------------------------------------------------------

class CountingOrigin(Origin):
    """The origin stub, keeping no record of the requests it answers (a
    long run would hold every POST body)."""

    def _record(self, req):
        pass


def serve_origins(workdir):
    """Run the origins until SIGTERM; print their ports as one JSON line."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    _, cert, key = make_certs(workdir)
    with CountingOrigin() as origin, TLSOrigin(cert, key) as tls:
        echo = Echo()
        print(json.dumps({"http": origin.port, "tls": tls.port, "echo": echo.port,
                          "pid": os.getpid()}), flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
        os._exit(0)             # daemon threads may be mid-request: no joining


def start_origins(workdir):
    """Start the origins' process; returns (process, ports), once it said them."""
    with open(os.path.join(workdir, "origins.err"), "wb") as err:
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--origins", workdir],
                             stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                             start_new_session=True)
    with selectors.DefaultSelector() as sel:
        sel.register(p.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=30):
            os.killpg(p.pid, signal.SIGKILL)
            raise SystemExit("soak: the origins did not start within 30 s")
    line = p.stdout.readline()
    if not line:
        raise SystemExit("soak: the origins' process died: see " + workdir + "/origins.err")
    return p, json.loads(line)


# --------------------------------------------------------------------------
# One client connection
# --------------------------------------------------------------------------

class Conn(Reader):
    """A client connection to the proxy, read with the kit's response
    Reader; its count is the bytes of the current answer."""

    def __init__(self, port):
        sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().__init__(sock)

    def answer(self, method="GET", head_only=False):
        """The next answer, whole (or its head only), as a kit.client
        Response; starts its count."""
        self.count = 0
        r = self.head()
        if not r.raw.startswith(b"HTTP/1."):
            line = r.raw.decode("latin-1").split("\r\n", 1)[0]
            raise Unexpected(f"bad status line {line!r}")
        return r if head_only else self.body(r, method)

    def read(self, n):
        """The next n bytes."""
        data = self.exact(n)
        if data is None:
            raise Unexpected(f"{len(self.buf)} of {n} bytes came, {self.ending()}")
        return data

    def until_close(self):
        """Everything until the proxy closes."""
        data = self.rest()
        if self.end != "closed":
            raise Unexpected(f"{len(data)} bytes came, {self.ending()}, not a close")
        return data

    def send(self, data):
        self.sock.sendall(data)

    def reset(self):
        """Close abruptly: an RST, not a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self):
        self.sock.close()


# --------------------------------------------------------------------------
# The client: sessions, each one connection
# --------------------------------------------------------------------------

class Client:
    """One client thread: sessions until the run's budget is spent."""

    def __init__(self, run, index):
        self.run = run
        self.rng = random.Random(f"soak-{run.seed}-{index}")
        self.records = []       # (tag, method, url, status, bytes or None)
        self.sent = collections.Counter()   # session kinds, by requests sent

    # -- the budget and the records --------------------------------------

    def ticket(self, kind):
        """Whether another request may be sent; counts it as sent."""
        if next(self.run.issued) >= self.run.total or time.monotonic() > self.run.deadline:
            self.run.done = True
            return False
        self.sent[kind] += 1
        return True

    def record(self, tag, method, url, status, nbytes):
        self.records.append((tag, method, url, status, nbytes))

    def expect(self, what, got, wanted):
        if got != wanted:
            raise Unexpected(f"{what}: got {got!r}, wanted {wanted!r}")

    def fresh(self):
        return next(self.run.unique)

    # -- HTTP requests on a kept-alive connection ----------------------------

    def exchange(self, c, method, path, query="", body=None, chunked=False, close=False,
                 want=200):
        """Send one request; read, check and record its answer. Returns whether
        the connection stays open."""
        url = self.run.http + path + (f"?{query}" if query else "")
        head = f"{method} {url} HTTP/1.1\r\nHost: {self.run.http[7:]}\r\n"
        if close:
            head += "Connection: close\r\n"
        if body is not None and chunked:
            head += "Transfer-Encoding: chunked\r\n"
            cut = len(body) // 2
            data = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:cut], body[cut:]) if p)
            payload = data + b"0\r\n\r\n"
        elif body is not None:
            head += f"Content-Length: {len(body)}\r\n"
            payload = body
        else:
            payload = b""
        c.send(head.encode() + b"\r\n" + payload)
        r = c.answer(method)
        self.expect(f"{method} {url}: status", r.status, want)
        if want == 200 and method != "HEAD":
            self.expect(f"{method} {url}: body of {len(r.body)} bytes", r.body == body_of(path),
                        True)
        tag = HIT_OR_MISS if path in HOT_PATHS and not query else "TCP_MISS"
        self.record(tag, method, url, r.status, c.count)
        return not close and (r.header("Connection") or "").lower() != "close"

    def keepalive(self):
        """2 to 8 requests on one connection; some say Connection: close."""
        if not self.ticket("keep-alive"):
            return
        c = Conn(self.run.port)
        try:
            for i in range(self.rng.randint(2, 8)):
                if (i > 0 and not self.ticket("keep-alive")) or not self.one_of_many(c, i == 7):
                    break
        finally:
            c.close()

    def one_of_many(self, c, last):
        r, rng = self.rng.random(), self.rng
        close = last or rng.random() < 0.05
        if r < 0.55:
            return self.exchange(c, "GET", rng.choice(HOT_PATHS), close=close)
        if r < 0.70:
            return self.exchange(c, "GET", rng.choice(MISS_PATHS), f"u={self.fresh()}",
                                 close=close)
        if r < 0.75:
            return self.exchange(c, "GET", rng.choice(MISS_PATHS),
                                 f"fault=chunked&chunk=777&u={self.fresh()}", close=close)
        if r < 0.80:
            return self.exchange(c, "HEAD", rng.choice(HOT_PATHS), close=close)
        if r < 0.92:
            path = rng.choice(HOT_PATHS if rng.random() < 0.2 else MISS_PATHS)
            payload = os.urandom(rng.choice((10, 1000, 20000)))
            return self.exchange(c, rng.choice(("POST", "PUT")), path, body=payload,
                                 chunked=rng.random() < 0.5, close=close)
        status = rng.choice((404, 503))
        query = f"status=503&u={self.fresh()}" if status == 503 else ""
        path = f"/nothing/{self.fresh()}" if status == 404 else MISS_PATHS[0]
        return self.exchange(c, "GET", path, query, close=close, want=status)

    # -- answers that close the connection -----------------------------------

    def refused(self, raw, want, tag, method, url):
        """Send raw (a whole head), read the error page up to the proxy's close."""
        c = Conn(self.run.port)
        try:
            c.send(raw)
            status = c.answer().status
            self.expect(f"{raw[:60]!r}: status", status, want)
            self.expect(f"{raw[:60]!r}: end of the connection", c.until_close(), b"")
            self.record(tag, method, url, status, c.count)
        finally:
            c.close()

    def bad_request(self):
        if not self.ticket("refused (400, 505)"):
            return
        http, n = self.run.http, self.fresh()
        cases = [
            (f"GET /origin-form/{n} HTTP/1.1\r\nHost: x\r\n\r\n", 400, "GET", f"/origin-form/{n}"),
            ("\x01\x02 not http at all\r\n\r\n", 400, "NONE", "error:invalid-request"),
            (f"POST {http}/text/10/smuggle?u={n} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
             "Transfer-Encoding: chunked\r\n\r\n", 400, "POST", f"{http}/text/10/smuggle?u={n}"),
            (f"GET {http}/text/10?u={n} HTTP/9.9\r\nHost: x\r\n\r\n", 505, "NONE",
             "error:invalid-request"),
        ]
        raw, want, method, url = self.rng.choice(cases)
        self.refused(raw.encode("latin-1"), want, "NONE_NONE", method, url)

    def bad_gateway(self):
        if self.ticket("502 (refused port)"):
            url = f"http://127.0.0.1:{self.run.refused_port}/x/{self.fresh()}"
            self.refused(f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), 502, "TCP_MISS",
                         "GET", url)

    def connect_denied(self):
        if self.ticket("CONNECT denied (403)"):
            target = f"127.0.0.1:{self.run.ports['http']}"     # not in --connect-ports
            self.refused(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode(), 403,
                         "TCP_DENIED", "CONNECT", target)

    # -- tunnels ---------------------------------------------------------------

    def open_tunnel(self, port):
        target = f"127.0.0.1:{port}"
        c = Conn(self.run.port)
        c.send(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        c.count = 0
        self.expect(f"CONNECT {target}", c.read(len(ESTABLISHED)), ESTABLISHED)
        return c, target

    def tunnel_echo(self):
        if not self.ticket("tunnel (echo)"):
            return
        c, target = self.open_tunnel(self.run.ports["echo"])
        try:
            sent = b"".join(b"line %d of a tunnel %d\n" % (i, self.fresh()) for i in range(3))
            c.send(sent)
            self.expect("echo through the tunnel", c.read(len(sent)), sent)
            c.sock.shutdown(socket.SHUT_WR)
            self.expect("the tunnel's end", c.until_close(), b"")
            self.record("TCP_TUNNEL", "CONNECT", target, 200, c.count)
        finally:
            c.close()

    def tunnel_tls(self):
        if not self.ticket("tunnel (TLS)"):
            return
        c, target = self.open_tunnel(self.run.ports["tls"])
        path = f"/text/3000/tls{self.rng.randint(0, 3)}"
        try:
            with self.run.tls.wrap_socket(c.sock, server_hostname="localhost") as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
                got = bytearray()
                while chunk := s.recv(65536):
                    got += chunk
            self.expect(f"https {path} through the tunnel", got.endswith(body_of(path)), True)
            self.record("TCP_TUNNEL", "CONNECT", target, 200, None)   # TLS bytes: not counted
        finally:
            c.close()

    # -- abrupt disconnects ------------------------------------------------------

    def abort_response(self):
        if not self.ticket("abort mid-response"):
            return
        c = Conn(self.run.port)
        url = f"{self.run.http}{BIG_PATH}?u={self.fresh()}"
        c.send(f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        status = c.answer(head_only=True).status
        c.reset()
        self.expect(f"GET {url}: status", status, 200)
        self.record("TCP_MISS", "GET", url, status, None)

    def abort_tunnel(self):
        if not self.ticket("abort mid-tunnel"):
            return
        c, target = self.open_tunnel(self.run.ports["echo"])
        c.send(b"and then the client vanishes\n")
        c.read(10)
        c.reset()
        self.record("TCP_TUNNEL", "CONNECT", target, 200, None)

    def abort_head(self):
        if not self.ticket("abort mid-head"):
            return
        c = Conn(self.run.port)
        c.send(f"GET {self.run.http}/text/10/gone HTTP/1.1\r\nHost: x\r\n".encode())
        c.close()               # a FIN: the proxy sees the head end early
        self.record("NONE_NONE", "NONE", "error:invalid-request", 400, None)

    # -- the loop ----------------------------------------------------------------

    def loop(self):
        kinds = [k for k, w in SESSIONS for _ in range(w)]
        while not self.run.done:
            kind = self.rng.choice(kinds)
            self.run.kinds_run.add(kind.__name__)
            try:
                kind(self)
            except (Unexpected, ResponseError, OSError, ValueError, ssl.SSLError) as e:
                self.run.fail(f"{kind.__name__}: {type(e).__name__}: {e}")


# Session kinds and their weights (a keep-alive session carries 2 to 8 requests).
SESSIONS = [(Client.keepalive, 50), (Client.bad_request, 4), (Client.bad_gateway, 3),
            (Client.connect_denied, 2), (Client.tunnel_echo, 6), (Client.tunnel_tls, 1),
            (Client.abort_response, 3), (Client.abort_tunnel, 1), (Client.abort_head, 1)]

_bodies = {}


def body_of(path):
    """The body the origin stub serves for path (generated once)."""
    if path not in _bodies:
        _bodies[path] = body_for(path)
    return _bodies[path]


# --------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------

class Run:
    """What the clients share."""

    def __init__(self, args, proxy, ports, ca, refused_port):
        self.pid = proxy.pid
        self.total, self.seed = args.requests, args.seed
        self.deadline = time.monotonic() + args.seconds
        self.port, self.ports, self.refused_port = proxy.port, ports, refused_port
        self.http = f"http://127.0.0.1:{ports['http']}"
        self.tls = ssl.create_default_context(cafile=ca)
        self.issued = itertools.count()     # next() is atomic under the GIL
        self.unique = itertools.count()
        self.done = False           # the budget is spent: clients stop
        self.kinds_run = set()
        self.failures = []
        self.lock = threading.Lock()

    def pooled(self):
        """The proxy's idle connections to the HTTP origin, kept in its pool
        (a set of descriptor numbers)."""
        return proc.sockets_to(self.pid, {self.ports["http"]})

    @staticmethod
    def expect_eof(c):
        """Wait for the proxy to close c (after an answer that said close)."""
        if c.until_close():
            raise Unexpected("bytes after an answer that said Connection: close")

    def fail(self, message):
        with self.lock:
            self.failures.append(message)
            if len(self.failures) >= MAX_FAILURES:
                self.done = True        # the proxy may be gone: no point going on


class Monitor(threading.Thread):
    """Samples the proxy's descriptors, threads and RSS while the clients run
    (for the report; the checks use VmHWM and the idle counts)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.stop = pid, threading.Event()
        self.peak = {"fds": 0, "threads": 0}
        self.rss = []           # VmRSS in KiB, every 0.25 s

    def run(self):
        while not self.stop.wait(0.25):
            try:
                self.peak["fds"] = max(self.peak["fds"], proc.open_fds(self.pid))
                self.peak["threads"] = max(self.peak["threads"], len(proc.tasks(self.pid)))
                self.rss.append(proc.memory_kib(self.pid, "VmRSS"))
            except OSError:
                return

    def rss_by_tenth(self):
        """The largest VmRSS (MiB) in each tenth of the run: flat, or growing?"""
        n = len(self.rss)
        if n < 10:
            return [k // 1024 for k in self.rss]
        return [max(self.rss[i * n // 10:(i + 1) * n // 10] or [0]) // 1024 for i in range(10)]


def read_log(path, http):
    """log.txt as a multiset of (tag, method, URL, status, bytes), with a hot
    URL's tag HIT_OR_MISS. Returns (lines, problems)."""
    seen, problems = collections.Counter(), []
    hot = {http + p for p in HOT_PATHS}
    with open(path, encoding="latin-1") as f:
        for n, line in enumerate(f, 1):
            m = LOG_LINE.match(line.rstrip("\n"))
            if m is None:
                problems.append(f"log.txt line {n} is not well-formed: {line[:200]!r}")
                continue
            tag = m["tag"]
            if m["url"] in hot and tag in ("TCP_HIT", "TCP_MISS"):
                tag = HIT_OR_MISS
            seen[(tag, m["method"], m["url"], int(m["status"]), int(m["bytes"]))] += 1
    return seen, problems


def check_log(path, records, http):
    """Compare log.txt with what the clients saw: lines match the records
    with a byte count exactly, and those without one (bytes None) on the
    rest. Returns (problems, lines)."""
    seen, problems = read_log(path, http)
    sized = collections.Counter(r for r in records if r[4] is not None)
    unsized = collections.Counter(r[:4] for r in records if r[4] is None)
    exact = seen & sized
    rest = collections.Counter()
    for key, k in (seen - exact).items():
        rest[key[:4]] += k
    missing = list((sized - exact).items()) + list((unsized - rest).items())
    for key, k in missing:
        problems.append(f"a client saw it, the log has no line for it ({k}x): {key}")
    for key, k in (rest - unsized).items():
        problems.append(f"in the log, but no client saw it ({k}x): {key}")
    return problems, sum(seen.values())


def hits_in(path):
    with open(path, encoding="latin-1") as f:
        return sum(1 for line in f if " TCP_HIT/" in line)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=100_000, help="requests to send (100000)")
    p.add_argument("--clients", type=int, default=64, help="client threads (64)")
    p.add_argument("--seconds", type=float, default=600, help="time bound, in seconds (600)")
    p.add_argument("--min-requests", type=int, help="fewer sent fails the run (--requests)")
    p.add_argument("--cache-mib", type=int, default=CACHE_MIB,
                   help=f"the proxy's --cache-size, in MiB ({CACHE_MIB})")
    p.add_argument("--rss-bound-mib", type=int,
                   help=f"bound on the proxy's peak RSS, MiB (cache + {RSS_ALLOWANCE_MIB})")
    p.add_argument("--seed", default="1", help="the clients' random seed")
    p.add_argument("--origin-pool", type=int, default=16,
                   help="the proxy's --origin-pool (16: small, so that it fills and evicts); "
                   "-1 for a stage's proxy, which has no pool")
    p.add_argument("--proxy", help="the proxy to test (solution/proxy)")
    p.add_argument("--san", help="test solution/'s build with this sanitizer (make SAN=...), "
                   "with a bound on RSS of 4 GiB")
    p.add_argument("--json", help="write the results there as JSON")
    p.add_argument("--keep", action="store_true", help="keep the working directory")
    p.add_argument("--origins", metavar="DIR", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.san:
        variant = args.san.replace(",", "-")
        args.proxy = args.proxy or os.path.join(os.path.dirname(PROXY), "build", variant, "proxy")
        args.rss_bound_mib = args.rss_bound_mib or 4096     # shadow memory, quarantine
        for name, value in check.SANITIZER_ENV.items():
            os.environ.setdefault(name, value)
    args.proxy = args.proxy or PROXY
    if args.rss_bound_mib is None:
        args.rss_bound_mib = args.cache_mib + RSS_ALLOWANCE_MIB
    if args.min_requests is None:
        args.min_requests = args.requests
    return args


def load(run, clients, pid):
    """Run the clients. Returns (seconds, monitor)."""
    threads = [threading.Thread(target=c.loop, name=f"client-{i}") for i, c in
               enumerate(clients)]
    monitor = Monitor(pid)
    monitor.start()
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - began
    monitor.stop.set()
    return seconds, monitor


def idle_counts(run, pid):
    """The proxy's descriptors and threads when idle, after one request (a
    miss, so that what starts lazily, such as a sanitizer's own thread, is
    there). Descriptors of pooled origin connections do not count (run.pooled).
    Returns (fd table, thread ids, the warm-up client)."""
    fds = proc.fd_table(pid)
    warm = Client(run, "warm-up")
    c = Conn(run.port)
    try:
        warm.exchange(c, "GET", MISS_PATHS[0], "warm-up", close=True)
        run.expect_eof(c)
    finally:
        c.close()
    settled, _ = proc.wait_quiet(pid, fds, proc.tasks(pid), QUIET_TIMEOUT, run.pooled)
    if settled != fds:
        raise SystemExit(f"soak: the proxy has {len(settled)} descriptors open after one "
                         f"request, {len(fds)} before: {proc.fd_changes(fds, settled)}")
    return fds, proc.tasks(pid), warm


def cpu_seconds(pid=None):
    """CPU time (user and system) process pid (default: this one) has used."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def soak(args, proxy, ports, work, refused_port):
    """Load the proxy, then check it. Returns (results, checks)."""
    pid = proxy.pid
    run = Run(args, proxy, ports, os.path.join(work, "ca.pem"), refused_port)
    idle_fds, idle_tasks, warm = idle_counts(run, pid)
    clients = [Client(run, i) for i in range(args.clients)]
    who = {"clients": None, "proxy": pid, "origins": ports["pid"]}
    cpu = {k: cpu_seconds(p) for k, p in who.items()}
    seconds, monitor = load(run, clients, pid)
    cpu = {k: round(cpu_seconds(p) - cpu[k], 1) for k, p in who.items()}
    sent = sum((c.sent for c in clients), collections.Counter())
    records = [r for c in [warm] + clients for r in c.records]
    checks = [(f"at least {args.min_requests} requests sent", sum(sent.values())
               >= args.min_requests, f"{sum(sent.values())} sent"),
              ("every answer as expected", not run.failures,
               f"{len(run.failures)} wrong: " + "; ".join(run.failures[:5]))]
    alive = proxy.running()
    checks.append(("the proxy is still running", alive, proxy.explain()))
    if alive:
        fds, new = proc.wait_quiet(pid, idle_fds, idle_tasks, QUIET_TIMEOUT, run.pooled)
        pooled = len(run.pooled())
        checks += [("descriptors back to idle (pooled origin connections aside)", fds == idle_fds,
                    f"{len(fds)} open, {len(idle_fds)} idle: {proc.fd_changes(idle_fds, fds)}"),
                   (f"at most --origin-pool ({max(args.origin_pool, 0)}) origin connections "
                    "pooled", pooled <= max(args.origin_pool, 0), f"{pooled} pooled"),
                   ("threads back to idle", not new, f"{len(new)} threads more than idle")]
    hwm = proc.peak_memory_kib(pid) if alive else 0
    checks.append((f"peak RSS under {args.rss_bound_mib} MiB", 0 < hwm < args.rss_bound_mib * 1024,
                   f"VmHWM {hwm} KiB"))
    problems, lines = check_log(os.path.join(work, "log.txt"), records, run.http)
    checks.append(("log.txt: one well-formed line per answered request", not problems,
                   f"{lines} lines, {len(records)} answered; " + "; ".join(problems[:8])))
    idle = [k.__name__ for k, _ in SESSIONS if k.__name__ not in run.kinds_run]
    checks.append(("every kind of session ran", not idle, "never ran: " + ", ".join(idle)))
    hits = hits_in(os.path.join(work, "log.txt"))
    if args.cache_mib > 0:
        checks.append(("the cache answered some requests", hits > 0, f"{hits} hits"))
    code = stop(proxy) if alive else proxy.proc.returncode
    checks.append(("exits 0 on SIGTERM", code == 0, proc.describe_status(code)))
    report = proxy.sanitizer_report()
    checks.append(("no sanitizer report on stderr", report is None, report or ""))
    results = {"requests_sent": sum(sent.values()), "answered": len(records), "log_lines": lines,
               "cache_hits": hits, "clients": args.clients, "seconds": round(seconds, 1),
               "requests_per_second": round(sum(sent.values()) / seconds),
               "peak_rss_kib": hwm, "rss_bound_mib": args.rss_bound_mib,
               "idle_fds": len(idle_fds), "idle_threads": len(idle_tasks),
               "rss_mib_by_tenth": monitor.rss_by_tenth(),
               "peak_fds": monitor.peak["fds"], "peak_threads": monitor.peak["threads"],
               "by_kind": dict(sent), "cpu_seconds": cpu, "nproc": os.cpu_count(),
               "cpu": cpu_model()}
    return results, checks


def stop(proxy):
    """SIGTERM the proxy; returns its exit status (None if it did not exit)."""
    proxy.send_signal(signal.SIGTERM)
    try:
        return proxy.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        return None


def cpu_model():
    with open("/proc/cpuinfo") as f:
        return next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")


def show(results, checks):
    r = results
    print(f"soak: {r['requests_sent']} requests from {r['clients']} clients in {r['seconds']} s "
          f"({r['requests_per_second']}/s), {r['answered']} answered, {r['log_lines']} log "
          f"lines, {r['cache_hits']} cache hits")
    print(f"soak: proxy peak RSS {r['peak_rss_kib'] // 1024} MiB (bound {r['rss_bound_mib']}), "
          f"peak {r['peak_fds']} fds / {r['peak_threads']} threads (idle {r['idle_fds']} / "
          f"{r['idle_threads']}); {r['nproc']} CPUs, {r['cpu']}")
    print("soak: proxy RSS (MiB), the largest in each tenth of the run: "
          + " ".join(map(str, r["rss_mib_by_tenth"])))
    print("soak: CPU seconds during the load: " + ", ".join(f"{k} {v}" for k, v in
                                                           r["cpu_seconds"].items()))
    print("soak: requests by kind: " + ", ".join(f"{k} {v}" for k, v in
                                                 sorted(r["by_kind"].items())))
    for name, ok, detail in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": {detail}"))


def main(argv=None):
    args = parse_args(argv)
    if args.origins:
        return serve_origins(args.origins)
    work = tempfile.mkdtemp(prefix="soak-")
    origins, ports = start_origins(work)
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))      # bound, never listening: connecting is refused
    pool = ["--origin-pool", str(args.origin_pool)] if args.origin_pool >= 0 else []
    proxy = proc.Program(args.proxy, ["--connect-ports", f"{ports['tls']},{ports['echo']}",
                                      "--cache-size", str(args.cache_mib << 20), *pool, "{port}"],
                         work)
    try:
        proxy.start()
        results, checks = soak(args, proxy, ports, work, refused.getsockname()[1])
    finally:
        proxy.stop()
        os.killpg(origins.pid, signal.SIGTERM)
        origins.wait(30)
        origins.stdout.close()
        refused.close()
    with open(os.path.join(work, "origins.err"), errors="replace") as f:
        trouble = [l for l in f if "Traceback" in l or "internal error" in l]
    checks.append(("the origins had no error of their own", not trouble, "".join(trouble[:3])))
    results["passed"] = all(ok for _, ok, _ in checks)
    results["checks"] = [{"check": n, "ok": ok, "detail": d} for n, ok, d in checks]
    show(results, checks)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.keep or not results["passed"]:
        print(f"soak: the proxy's directory (log.txt, stderr) is {work}")
    else:
        subprocess.run(["rm", "-rf", work], check=False)
    print(f"soak: {'passed' if results['passed'] else 'FAILED'}: {results['requests_sent']} "
          f"requests in {results['seconds']} s, peak RSS {results['peak_rss_kib'] // 1024} MiB")
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
