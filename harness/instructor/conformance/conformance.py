#!/usr/bin/python3
"""make conformance: run the HTTP caching tests of cache-tests.fyi (the npm
package http-cache-tests) through the reference proxy and through Squid, at
once, against one test server, and compare (issue 18).

usage: conformance.py [--update] [--proxy BIN] [--doc FILE] [--baseline FILE]
                      [--timeout S] [--keep]

1. npm installs the suite and global-agent, at the versions package-lock.json
   pins, into harness/instructor/conformance/node_modules (not again while what is there
   came from this lock; with no registry to reach, it fails saying so).
2. In a temp directory, each on a loopback port the OS picks and in its own
   process group (kit.proc.Program, stopped by that group): the suite's test
   server (server/server.mjs, which `npm run server` runs, held to 127.0.0.1
   by loopback.cjs); the reference, with --default-ttl 0 (see below); Squid,
   configured as the bench configures it (harness/instructor/bench/peers.py).
3. The suite's command-line client (cli.mjs), once for each proxy and both at
   once, with every request sent through that proxy in absolute form
   (`node -r global-agent/bootstrap`, GLOBAL_AGENT_HTTP_PROXY); each prints
   its results as JSON. Each proxy's access log must show the test server's
   requests, or the run fails: a client that bypassed its proxy proves
   nothing.
4. Rewrites docs/conformance.md (cachetests.page: sorted, no dates), and
   compares the reference's results with baseline.json: a required test the
   baseline lists as passing that does not pass now fails the run, by name.
   --update (make conformance UPDATE=1) rewrites the baseline instead.

Exit status: 0; 1 if a required test of the baseline no longer passes; 2 if
the run could not be made (npm, a server, a client).

--default-ttl 0: the reference keeps a response that says nothing of its
freshness fresh for --default-ttl seconds (300). The suite's first check
(freshness-none) asks whether a cache does, because doing so "messes up the
tests"; its README suggests turning such default caching off, and Squid, as
configured, has none (its refresh_pattern needs Last-Modified).
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
INSTRUCTOR = os.path.dirname(HERE)
HARNESS = os.path.dirname(INSTRUCTOR)
ROOT = os.path.dirname(HARNESS)
sys.path.insert(0, HARNESS)
sys.path.insert(0, os.path.join(INSTRUCTOR, "bench"))
import peers  # noqa: E402
import cachetests  # noqa: E402
from kit.proc import Program, ProgramError, stop_on_signals  # noqa: E402

MODULES = os.path.join(HERE, "node_modules")
SUITE = os.path.join(MODULES, "http-cache-tests")
LOCK = os.path.join(HERE, "package-lock.json")
STAMP = os.path.join(MODULES, ".proxylab-lock-sha256")
NODE_MIN = (14, 8)              # the suite's package.json: engines.node
PROXIES = ("reference", "squid")
NAMES = {"reference": "reference", "squid": "Squid"}


class Fatal(Exception):
    """The run could not be made: say why, exit 2."""


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--update", action="store_true",
                   help="rewrite the baseline from this run instead of checking against it")
    p.add_argument("--proxy", default=os.path.join(ROOT, "solution", "proxy"))
    p.add_argument("--doc", default=os.path.join(ROOT, "docs", "conformance.md"))
    p.add_argument("--baseline", default=os.path.join(HERE, "baseline.json"))
    p.add_argument("--timeout", type=int, default=240,
                   help="seconds the clients may take, a safety net (a run takes ~30)")
    p.add_argument("--keep", action="store_true",
                   help="keep the temp directory (logs, raw results) and say where")
    return p.parse_args()


# -- the suite, installed --------------------------------------------------------

def node_version():
    """Node.js's version as a tuple, or Fatal if it is missing or too old."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        raise Fatal("node and npm are needed (apt-get install nodejs npm)")
    text = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    m = re.match(r"v(\d+)\.(\d+)", text)
    if not m or (int(m[1]), int(m[2])) < NODE_MIN:
        raise Fatal(f"node {text or '(no version)'} is too old: the suite needs "
                    f"{NODE_MIN[0]}.{NODE_MIN[1]} or later")
    return text


def lock_digest():
    with open(LOCK, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def install():
    """npm ci, unless node_modules came from this very lock."""
    digest = lock_digest()
    try:
        with open(STAMP) as f:
            if f.read().strip() == digest and os.path.isdir(SUITE):
                return
    except OSError:
        pass
    print("conformance: npm ci (http-cache-tests, global-agent) into "
          f"{os.path.relpath(MODULES, ROOT)}", flush=True)
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--fetch-retries=1",
                        "--loglevel=error"], cwd=HERE, capture_output=True, text=True,
                       timeout=600, env=dict(os.environ, npm_config_update_notifier="false"))
    if r.returncode != 0:
        head = "\n".join("  " + l for l in (r.stderr + r.stdout).strip().splitlines()[:8])
        raise Fatal("npm ci could not install the suite "
                    "(harness/instructor/conformance/package-lock.json), so there are no "
                    "results. If npm says ECONNREFUSED, ENOTFOUND, EAI_AGAIN or ETIMEDOUT, "
                    "the npm registry cannot be reached: make conformance needs it once, to "
                    "install. npm said:\n" + head)
    with open(STAMP, "w") as f:
        f.write(digest + "\n")


def package_version(name):
    with open(os.path.join(MODULES, name, "package.json")) as f:
        return json.load(f)["version"]


def list_tests(workdir):
    """The suite's tests, by id (list-tests.mjs)."""
    r = subprocess.run(["node", "--no-warnings", "list-tests.mjs"], cwd=HERE,
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise Fatal("could not list the suite's tests (node list-tests.mjs):\n" + r.stderr)
    return cachetests.load_tests(r.stdout)


# -- the servers -------------------------------------------------------------------

class TestServer(Program):
    """The suite's test server: what `npm run server --port=N` runs, with
    the port (and pid file) in the environment as npm would set them, and
    held to 127.0.0.1 (loopback.cjs)."""

    def __init__(self, workdir):
        d = os.path.join(workdir, "server")
        os.makedirs(d)
        super().__init__(shutil.which("node"), ["--no-warnings", "-r",
                         os.path.join(HERE, "loopback.cjs"),
                         os.path.join(SUITE, "server", "server.mjs")], d, startup_timeout=30)

    def spawn(self, port):
        self.env = dict(os.environ, npm_config_port=str(port), npm_config_protocol="http",
                        npm_config_pidfile=os.path.join(self.workdir, "server.pid"))
        return super().spawn(port)


def reference(workdir, binary):
    """The reference as the bench runs it (the same cache as Squid's), but
    with no default freshness (the module's docstring says why)."""
    d = os.path.join(workdir, "reference")
    os.makedirs(d)
    return peers.Daemon(binary, ["--log", os.path.join(d, "access.log"),
                                 "--max-clients", str(peers.MAX_CLIENTS),
                                 "--cache-size", str(peers.CACHE_MIB << 20),
                                 "--max-object", str(peers.MAX_OBJECT_MIB << 20),
                                 "--default-ttl", "0", "{port}"], d, lambda port: None)


def access_log(workdir, name):
    return os.path.join(workdir, name, "access.log")


def start(workdir, binary, running):
    """Start the test server and both proxies; running collects them (for
    stopping) as they start."""
    running["server"] = TestServer(workdir).start()
    running["reference"] = reference(workdir, binary).start()
    running["squid"] = peers.squid(workdir).start()
    return running


# -- the clients ------------------------------------------------------------------

def client(name, proxy_port, server_port, workdir):
    """Start the suite's client, every request through the proxy on proxy_port.
    cli.mjs reads its options as `npm run cli --base=URL` would pass them;
    its id must be "" (all tests), as package.json's config has it: unset,
    it would look for a test with no id."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOBAL_AGENT_")}
    env.update(npm_config_base=f"http://{peers.HOST}:{server_port}", npm_config_id="",
               npm_package_config_id="",
               GLOBAL_AGENT_HTTP_PROXY=f"http://{peers.HOST}:{proxy_port}")
    with open(os.path.join(workdir, f"{name}.json"), "wb") as out, \
            open(os.path.join(workdir, f"{name}.client.stderr"), "wb") as err:
        return subprocess.Popen(["node", "--no-warnings", "-r", "global-agent/bootstrap",
                                 os.path.join(SUITE, "cli.mjs")], cwd=HERE, env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)


def kill_group(proc):
    """Kill a client still running, with its process group."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def run_clients(running, workdir, timeout):
    """Run a client for each proxy, at once; wait for both (at most timeout
    s). Returns each one's results, by proxy name."""
    procs = {n: client(n, running[n].port, running["server"].port, workdir) for n in PROXIES}
    deadline = time.monotonic() + timeout
    try:
        for name, proc in procs.items():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                raise Fatal(f"the suite's client through {NAMES[name]} did not finish "
                            f"within {timeout} s (--timeout)") from None
    finally:
        for proc in procs.values():
            kill_group(proc)
    return {n: client_results(n, procs[n], workdir) for n in PROXIES}


def client_results(name, proc, workdir):
    """One client's results, or Fatal saying what it printed instead."""
    with open(os.path.join(workdir, f"{name}.json")) as f:
        text = f.read()
    try:
        return cachetests.load_results(text)
    except ValueError as e:
        with open(os.path.join(workdir, f"{name}.client.stderr"), errors="replace") as f:
            err = "\n".join(f.read().strip().splitlines()[-12:])
        raise Fatal(f"through {NAMES[name]}: {e} (the client exited with status "
                    f"{proc.returncode}); its stderr:\n{err}") from None


def check_proxied(workdir, server_port, tests):
    """Each proxy's access log must show the test server's requests: at least
    one per test (each test PUTs its config, then asks for its state)."""
    for name in PROXIES:
        try:
            with open(access_log(workdir, name), errors="replace") as f:
                seen = sum(f"{peers.HOST}:{server_port}/" in line for line in f)
        except OSError:
            seen = 0
        if seen < len(tests):
            raise Fatal(f"{NAMES[name]}'s access log shows {seen} requests to the test "
                        f"server, fewer than the {len(tests)} tests: the client did not "
                        "send them through it, and its results would say nothing of it")


# -- the report -------------------------------------------------------------------

INTRO = """\
# Conformance: the HTTP caching tests of cache-tests.fyi

Issue 18 asks how the reference's cache behaves against the HTTP caching test
suite behind [cache-tests.fyi](https://cache-tests.fyi) (the npm package
`http-cache-tests`), beside Squid. `make conformance` (about a minute) runs it
and rewrites this page; `make test` runs it too. The page changes only when
results (or the versions below) change.

```
make conformance            # run, rewrite this page, check against the baseline
make conformance UPDATE=1   # run, rewrite this page and the baseline
```

## How it runs (harness/instructor/conformance/)

- npm installs the suite and `global-agent` at the versions
  `harness/instructor/conformance/package-lock.json` pins, into
  `harness/instructor/conformance/node_modules` (ignored by git; installed again only
  when the lock changes). Without the npm registry, the first run fails,
  saying so.
- In a temp directory, on loopback ports the OS picks, each in its own
  process group: the suite's test server (`server/server.mjs`, what `npm run
  server` runs); the reference, with the bench's cache (64 MiB, objects up
  to 1 MiB) and `--default-ttl 0`; Squid, configured as the bench configures
  it (`harness/instructor/bench/peers.py`: a 64 MiB memory cache, nothing on disk).
- The suite's command-line client (`cli.mjs`) runs once for each proxy, both
  at once, against the same test server, with every request sent to the
  proxy in absolute form (`node -r global-agent/bootstrap`,
  `GLOBAL_AGENT_HTTP_PROXY`). The run fails if a proxy's access log does not
  show the test server's requests.
- `--default-ttl 0`: by default the reference keeps a response that says
  nothing of its freshness fresh for 300 s. The suite's check
  `freshness-none` asks whether a cache does that, because it "messes up the
  tests" (tests that expect such a response to be fetched again see it come
  from the cache), and its README suggests turning such default caching off
  for the run. Squid, as configured, does not do it (its default
  `refresh_pattern` gives freshness only from `Last-Modified`). When this
  harness was written, the reference run with its default said no to
  `freshness-none`, and 156 tests did not run instead of 81.
- `harness/instructor/conformance/baseline.json` lists the tests the reference passes.
  `make conformance` fails, naming them, when a required test listed there
  no longer passes; after a change that makes more tests pass, `make
  conformance UPDATE=1` records them.

## Reading the results

The suite's kinds: a **required** test checks what the specification
(RFC 9111) requires, and failing it is a conformance problem; an **optimal**
test, what a good cache does (usually, reusing a stored response when it
may), and failing it is not; a **check** asks how a cache behaves, with no
right answer (yes or no). A test "not run" tested nothing: a test it depends
on did not pass (for example, tests of how a cache updates a stored
response from a `304` depend on its sending a conditional request at all),
or a request it needs to set up did not go as planned, or the cache retried
a request. The suite's README says
of itself: "passing all of the tests currently means nothing -- this is not
a conformance test suite, it's just the start of a conversation".
"""


def versions(args, node):
    """What was run, for the page: versions only."""
    def first_line(argv):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return ((r.stdout + r.stderr).strip().splitlines() or ["unknown"])[0].strip()
    return [("http-cache-tests", package_version("http-cache-tests")),
            ("global-agent", package_version("global-agent")),
            ("Node.js", node),
            ("the reference", first_line([args.proxy, "--version"]).split("/")[-1]),
            ("Squid", first_line([shutil.which("squid") or "/usr/sbin/squid", "-v"]))]


def write_doc(path, text):
    with open(path, "w") as f:
        f.write(text)


def summary(tests, runs):
    """The last line: each proxy's required tests, counted."""
    parts = []
    for name, outs in runs.items():
        c = cachetests.totals(tests, outs)["required"]
        parts.append(f"{NAMES[name]} {c['passed']} passed, {c['failed']} failed, "
                     f"{c['not_run']} not run")
    return "conformance: required tests: " + "; ".join(parts)


def judge(args, tests, results, runs, suite):
    """Check the reference's results against the baseline (or rewrite it).
    Returns the exit status."""
    outs = runs["reference"]
    if args.update:
        write_doc(args.baseline, cachetests.baseline_text(suite, outs))
        print(f"conformance: wrote {os.path.relpath(args.baseline, ROOT)}: "
              f"{len(cachetests.passing(outs))} tests the reference passes")
        return 0
    try:
        with open(args.baseline) as f:
            baseline = cachetests.read_baseline(f.read())
    except (OSError, ValueError) as e:
        raise Fatal(f"no baseline to compare with ({e}): run make conformance UPDATE=1") from None
    gained, lost = cachetests.gains_and_losses(baseline, outs)
    if gained:
        print(f"conformance: {len(gained)} tests pass that the baseline does not list "
              f"(make conformance UPDATE=1 records them): {', '.join(gained)}")
    bad = cachetests.regressions(tests, baseline, outs)
    others = [t for t in lost if t not in {b[0] for b in bad}]
    if others:
        print(f"conformance: optimal or check tests of the baseline that no longer pass "
              f"(not a failure): {', '.join(others)}")
    for test_id, word in bad:
        why = cachetests.message(results["reference"], test_id)
        print(f"conformance: FAILED: {test_id} (required) passed in the baseline, now "
              f"{cachetests.WORDS.get(word, word)}{': ' + why if why else ''}")
    return 1 if bad else 0


def conformance(args, workdir):
    """Install, start, run, stop; write the page; judge. Returns the exit status."""
    node = node_version()
    install()
    tests = list_tests(workdir)
    running = {}
    try:
        start(workdir, args.proxy, running)
        t0 = time.monotonic()
        results = run_clients(running, workdir, args.timeout)
        print(f"conformance: both clients done in {time.monotonic() - t0:.0f} s", flush=True)
    finally:
        for program in running.values():
            program.stop()
    check_proxied(workdir, running["server"].port, tests)     # logs flushed by now
    runs = {n: cachetests.outcomes(tests, results[n]) for n in PROXIES}
    suite = f"http-cache-tests {package_version('http-cache-tests')}"
    text = cachetests.page(INTRO, versions(args, node), tests, results,
                           {NAMES[n]: runs[n] for n in PROXIES})
    write_doc(args.doc, text)
    status = judge(args, tests, results, runs, suite)
    print(summary(tests, runs))
    return status


def main():
    args = parse_args()
    stop_on_signals("conformance")
    if not os.access(args.proxy, os.X_OK):
        print(f"conformance: {args.proxy} is not built: run make first", file=sys.stderr)
        return 2
    if not peers.installed("squid") and not peers.installed("/usr/sbin/squid"):
        print("conformance: Squid is not installed (apt-get install squid)", file=sys.stderr)
        return 2
    workdir = tempfile.mkdtemp(prefix="conformance-")
    os.chmod(workdir, 0o755)        # Squid, run as root, works as the proxy user
    try:
        return conformance(args, workdir)
    except (Fatal, ProgramError, subprocess.TimeoutExpired) as e:
        print(f"conformance: {e}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"conformance: kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
