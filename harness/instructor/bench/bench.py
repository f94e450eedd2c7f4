#!/usr/bin/env python3
"""Benchmark the reference proxy against Squid and tinyproxy, with nginx
direct as the ceiling, all on loopback, in one run on one machine (issue 10).

usage: bench.py [--proxy BIN] [--duration S] [--runs N] [--connections N]
                [--idle N] [--tunnel-mib N] [--out DIR] [--doc FILE] [--smoke]

`make bench` runs it in full and rewrites the results section of
docs/performance.md (and its chart); `make bench-smoke` runs every case once,
for a second, and fails if any proxy or case does not work: that is what CI
runs, so the bench cannot rot. Exit status: 0, or 1 if a case failed (the
smoke form), or 2 if the bench could not run at all.
"""
import argparse
import datetime
import json
import os
import platform
import resource
import select
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESS = os.path.dirname(os.path.dirname(HERE))
ROOT = os.path.dirname(HARNESS)
sys.path.insert(0, HARNESS)
sys.path.insert(0, HERE)
import peers  # noqa: E402
from kit.client import Reader, ResponseError  # noqa: E402
from kit.proc import ProgramError, stop_on_signals  # noqa: E402
import report  # noqa: E402

# The wrk cases: (name, path on the origin, extra argument for proxy.lua).
# Every one runs at --connections (64) with keep-alive, but close.
WRK_CASES = [
    ("hit-1k", "/cache/1k", ""),
    ("hit-100k", "/cache/100k", ""),
    ("miss-1k", "/nostore/1k", ""),
    ("close-1k", "/cache/1k", "close"),
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--proxy", default=os.path.join(ROOT, "solution", "proxy"))
    p.add_argument("--duration", type=int, default=10, help="seconds of each wrk run")
    p.add_argument("--runs", type=int, default=3, help="runs of each case (the median counts)")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=2, help="wrk's threads")
    p.add_argument("--idle", type=int, default=1000, help="connections the idle case holds")
    p.add_argument("--tunnel-mib", type=int, default=128, help="MiB sent through the tunnel")
    p.add_argument("--only", help="only these cases, comma-separated (e.g. hit-1k,tunnel)")
    p.add_argument("--peers", help="only these proxies, comma-separated (nginx, the origin, "
                   "always runs)")
    p.add_argument("--wrapper", default="", help="run the reference under this command "
                   "(profile.sh: perf record, valgrind --tool=callgrind)")
    p.add_argument("--out", help="write results.json and the chart here")
    p.add_argument("--doc", help="rewrite the results section of this Markdown file")
    p.add_argument("--smoke", action="store_true",
                   help="each case once, briefly; every peer must be installed and work")
    a = p.parse_args()
    if a.smoke:
        a.duration, a.runs, a.connections, a.threads = 1, 1, 8, 1
        a.idle, a.tunnel_mib = 50, 8
    return a


# -- the machine -----------------------------------------------------------------

def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def version(argv, line=0):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    lines = (r.stdout + r.stderr).strip().splitlines()
    return lines[line].strip() if len(lines) > line else "unknown"


def machine():
    """What the numbers were measured on, and how busy it was."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "kernel": platform.release(),
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "wrk": version(["wrk", "-v"]),
        "nginx": version(["nginx", "-v"]),
        "squid": version(["squid", "-v"]),
        "tinyproxy": version(["tinyproxy", "-v"]),
    }


# -- one measurement ---------------------------------------------------------------

def wrk_run(args, proxy_port, target, host, extra):
    """One wrk run against proxy_port; returns its numbers, or {"failed": why}."""
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
            "--timeout", "5s", "-s", os.path.join(HERE, "proxy.lua"),
            f"http://{peers.HOST}:{proxy_port}", "--", target, host] + ([extra] if extra else [])
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=args.duration + 60)
    except subprocess.TimeoutExpired:
        return {"failed": "wrk did not finish"}
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    if r.returncode != 0 or not lines:
        return {"failed": f"wrk exited {r.returncode}: {r.stderr.strip()[-200:]}"}
    w = json.loads(lines[-1])
    errors = sum(w[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {"rps": w["requests"] / (w["duration_us"] / 1e6), "p50_ms": w["p50_us"] / 1000,
            "p99_ms": w["p99_us"] / 1000, "errors": errors, "requests": w["requests"],
            "error_kinds": {k: w[k] for k in ("connect", "read", "write", "status", "timeout")
                            if w[k]}}


def tunnel_run(args, proxy_port, origin_port, direct):
    """Fetch /big through a CONNECT tunnel of the proxy (or straight from
    the origin, for direct); returns {"mibps": ...} or {"failed": why}."""
    size = args.tunnel_mib << 20
    argv = ["curl", "-s", "-o", "/dev/null", "-w", "%{size_download} %{speed_download}",
            f"http://{peers.HOST}:{origin_port}/big"]
    if not direct:
        argv[1:1] = ["-p", "-x", f"http://{peers.HOST}:{proxy_port}"]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return {"failed": "curl did not finish in 300 s"}
    got, speed = (r.stdout.split() + ["0", "0"])[:2]
    if r.returncode != 0 or int(got) != size:
        return {"failed": f"curl exited {r.returncode} with {got} of {size} bytes"}
    return {"mibps": float(speed) / (1 << 20)}


def request_bytes(target, host):
    return f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


def read_response(s):
    """Read one response from s, by its framing; returns its head."""
    return Reader(s).response().raw.decode("latin-1")     # raw: the head only


def idle_run(args, program, target, host):
    """Open args.idle connections to program, send one request on each and
    read its response, and keep them all open: then count those still open
    and take program's resident memory. Returns the numbers."""
    conns, failed = [], 0
    before = peers.rss_kib(program)
    try:
        for _ in range(args.idle):
            s = socket.create_connection((peers.HOST, program.port), timeout=30)
            conns.append(s)
            s.sendall(request_bytes(target, host))
            failed += not read_response(s).startswith("HTTP/1.1 200")
        rss = peers.rss_kib(program)
        poller = select.poll()
        for s in conns:
            poller.register(s, select.POLLIN)
        closed = len(poller.poll(0))    # a closed connection is readable (EOF)
    except (OSError, ResponseError) as e:
        return {"failed": f"after {len(conns)} connections: {e}"}
    finally:
        for s in conns:
            s.close()
    return {"held": len(conns) - closed, "errors": failed,
            "rss_mib": rss / 1024, "rss_before_mib": before / 1024}


# -- the run -------------------------------------------------------------------

def start_peers(args, workdir, running):
    """Start the origin and every proxy that is installed, into running
    ({name: program}, so that the caller can stop whatever did start);
    returns (origin, [names skipped])."""
    # Each goes into running before it starts: a signal during its start
    # must still stop it.
    origin = running["nginx"] = peers.origin(workdir, args.tunnel_mib << 20)
    origin.start()                      # nginx is also the ceiling: no proxy at all
    wrapper = args.wrapper.split()
    wanted = [("reference", args.proxy,
               lambda: peers.reference(workdir, args.proxy, origin.port, wrapper)),
              ("squid", "squid", lambda: peers.squid(workdir)),
              ("tinyproxy", "tinyproxy", lambda: peers.tinyproxy(workdir, origin.port))]
    skipped = []
    for name, program, make in wanted:
        if args.peers and name not in args.peers.split(","):
            continue
        if not peers.installed(program):
            print(f"bench: {name} is not installed ({program}): skipped", flush=True)
            skipped.append(name)
            continue
        running[name] = make()
        running[name].start()
    return origin, skipped


def target_of(name, origin, path):
    """What to put in the request line: an absolute-form URL for a proxy, the
    path for nginx itself."""
    if name == "nginx":
        return path
    return f"http://{peers.HOST}:{origin.port}{path}"


def warm(args, programs, origin):
    """Ask each proxy twice for each path, so that caches hold what they may,
    and check what they say: 200, and a hit on /cache/ where they have a cache.
    Returns a list of problems."""
    host = f"{peers.HOST}:{origin.port}"
    problems = []
    for name, program in programs.items():
        if args.peers and name not in args.peers.split(","):
            continue
        for path in ("/cache/1k", "/cache/100k", "/nostore/1k"):
            cached = path.startswith("/cache/")
            # A proxy may store a response only once the client has it all,
            # so the second request can still be a miss: a few more, then.
            for attempt in range(5):
                head = fetch_head(program.port, target_of(name, origin, path), host)
                if not head.startswith("HTTP/1.1 200"):
                    problems.append(f"{name} {path}: {head.splitlines()[:1]}")
                    break
                if attempt > 0 and ("X-Cache: HIT" in head or not cached):
                    break
            if name in ("reference", "squid") and ("X-Cache: HIT" in head) != cached:
                problems.append(f"{name} {path}: {'no hit' if cached else 'a hit'} "
                                f"on the second request")
    return problems


def fetch_head(port, target, host):
    """The head of the response to GET target, sent to port."""
    with socket.create_connection((peers.HOST, port), timeout=30) as s:
        s.sendall(request_bytes(target, host))
        try:
            return read_response(s)
        except (OSError, ResponseError) as e:
            return f"no response: {e}"


def measure(args, case, name, program, origin):
    """One run of case against program (named name)."""
    host = f"{peers.HOST}:{origin.port}"
    if case == "tunnel":
        return tunnel_run(args, program.port, origin.port, direct=name == "nginx")
    if case == "idle":
        return idle_run(args, program, target_of(name, origin, "/cache/1k"), host)
    path, extra = {c: (p, e) for c, p, e in WRK_CASES}[case]
    return wrk_run(args, program.port, target_of(name, origin, path), host, extra)


def cases(args):
    names = [c for c, _, _ in WRK_CASES] + ["tunnel", "idle"]
    return [c for c in names if not args.only or c in args.only.split(",")]


def run_all(args, programs, origin):
    """Every case, args.runs times, the proxies in turn (A B C A B C, each
    round starting one further on, so that none is always first). Returns
    {case: {proxy: [result of each run]}}."""
    names = [n for n in programs if not args.peers or n in args.peers.split(",")]
    results = {}
    for case in cases(args):
        results[case] = {n: [] for n in names}
        if case == "tunnel":    # the first read of /big fills nginx's page cache: not counted
            tunnel_run(args, None, origin.port, direct=True)
        for i in range(args.runs):
            for name in names[i % len(names):] + names[:i % len(names)]:
                r = measure(args, case, name, programs[name], origin)
                if not programs[name].running():
                    r = {"failed": programs[name].explain()}
                results[case][name].append(r)
                print(f"bench: {case:9} run {i + 1}/{args.runs} {name:10} {report.brief(r)}",
                      flush=True)
    return results


def raise_fd_limit():
    """The idle case holds 1,000 connections: the bench and the servers it
    starts (which inherit this) need that many descriptors and more."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def missing_tools(args):
    """What the bench cannot do without, in words."""
    missing = [f"{tool} (apt-get install {pkg})" for tool, pkg in
               (("wrk", "wrk"), ("nginx", "nginx-light"), ("curl", "curl"))
               if not peers.installed(tool) and not peers.installed(f"/usr/sbin/{tool}")]
    if not os.access(args.proxy, os.X_OK):
        missing.append(f"{args.proxy} (run make first)")
    return missing


def bench(args, workdir):
    """Start everything, measure, stop everything. Returns (results,
    skipped, problems)."""
    programs = {}
    try:
        origin, skipped = start_peers(args, workdir, programs)
        problems = warm(args, programs, origin)
        for p in problems:
            print(f"bench: warm-up: {p}", flush=True)
        return run_all(args, programs, origin), skipped, problems
    finally:
        for program in programs.values():
            program.stop()


def main():
    args = parse_args()
    stop_on_signals("bench")
    raise_fd_limit()
    if missing_tools(args):
        print("bench: cannot run without " + ", ".join(missing_tools(args)), file=sys.stderr)
        return 2
    info = machine()
    print(f"bench: {info['nproc']} cores, {info['cpu']}, load {info['load_before']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        os.chmod(workdir, 0o755)        # Squid and nginx's workers may run as others
        try:
            results, skipped, problems = bench(args, workdir)
        except ProgramError as e:
            print(f"bench: {e}", file=sys.stderr)
            return 2
    info["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    summary = report.summarise(results)
    text = report.markdown(info, summary, skipped, args)
    print(text)
    if args.out:
        report.save(args.out, info, results, summary)
    if args.doc:
        report.rewrite(args.doc, text)
    failures = problems + report.failures(summary, args) + [f"{n} is not installed" for n in skipped]
    for f in failures:
        print(f"bench: FAILED: {f}", file=sys.stderr)
    if args.smoke:              # each case and proxy is one check; the warm-up's too
        pairs = sum(len(by) for by in summary.values())
        bad = len(report.failures(summary, args))
        print(f"bench-smoke: {pairs - bad} passed, {bad + len(problems) + len(skipped)} failed")
    return 1 if args.smoke and failures else 0


if __name__ == "__main__":
    sys.exit(main())
