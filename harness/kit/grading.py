"""Building a stage, running its CUnit and pytest tests, and turning what ran
into rows of the points table: the code check.py (make test) and the grader
(harness/grade) share.

A run is described by a namespace with these fields (check.py's arguments):
  stage, dir, programs, out, only, wrapper, san, verbose
and, for the grader only (all optional):
  sandbox     argv prefix for every program under test and the unit runner
  build_sandbox  argv prefix for the build (sandbox, if not given)
  outer       argv prefix for the unit runner and pytest (network isolation)
  test_timeout  seconds one test may take (CUnit and pytest)
  build_timeout  seconds one build (one make) may take
  deadline    time.monotonic() by which the whole run must end
  pids_events the pids.events file of the programs' cgroup (kit/sandbox.py):
              once it counts a refused fork, the tests stop (a fork bomb)
  pytest_args extra arguments for pytest
"""
import json
import math
import os
import re
import selectors
import shlex
import signal
import subprocess
import sys
import time

from kit import rubric, sandbox

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # harness/
ROOT = os.path.dirname(HERE)
HIDDEN = os.path.join(HERE, "hidden")
PYTEST = ["/usr/bin/python3", "-m", "pytest"]
UNIT_LINE = re.compile(r"^(PASS|FAIL|CRASH|TIMEOUT)\s+(\S+)(.*)$")
ROWS = re.compile(r"^ rows=(\d+)/(\d+)$")     # a FAIL verdict's rows, of a table scored by row
WIDTH = 100

LINE_MAX = 2000             # characters kept of one line of a test's output
TOTAL_MAX = 2 << 20         # characters kept of a whole run's output
OUTPUT_MAX = 16000          # characters of output kept per test in results
VERDICTS_MAX = 1 << 20      # bytes read of the unit runner's verdicts
STOP_POLL = 0.05            # seconds between run_bounded's looks at stop()


class KitError(Exception):
    """The kit itself is broken (a rubric mismatch, pytest cannot run)."""


# -- running a command with bounded output and time ----------------------------

def run_bounded(cmd, timeout=None, stop=None, **popen):
    """Run cmd in a new session with stdout and stderr merged, keeping at most
    TOTAL_MAX characters of it (each line cut to LINE_MAX). After timeout
    seconds, or once stop() (looked at every STOP_POLL s) is true, the
    session is killed. Returns (text, returncode or None if killed)."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, **popen)
    deadline = None if timeout is None else time.monotonic() + timeout
    lines, size, partial, killed = [], 0, b"", False
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if (left is not None and left <= 0) or (stop and stop()):
                kill_session(proc)
                killed = True
                break
            if not sel.select(left if stop is None else min(left or STOP_POLL, STOP_POLL)):
                continue
            chunk = os.read(proc.stdout.fileno(), 1 << 16)
            if not chunk:
                break
            done, partial = _split(partial + chunk)
            size = _keep_lines(lines, done, size)
    if partial:
        _keep_lines(lines, [partial], size)
    proc.stdout.close()
    code = proc.wait()
    return "\n".join(lines), None if killed else code


def _split(data):
    """Whole lines of data (each cut to LINE_MAX), and the unfinished rest."""
    *done, rest = data.split(b"\n")
    if len(rest) > LINE_MAX * 4:        # a line without end: keep its start only
        done.append(rest[:LINE_MAX])
        rest = b""
    return done, rest


def _keep_lines(lines, raw, size):
    """Append the raw lines, while there is room, to lines; returns the new size."""
    for b in raw:
        line = b[:LINE_MAX].decode(errors="replace")
        if size < TOTAL_MAX:
            lines.append(line)
            size += len(line) + 1
    return size


def kill_session(proc):
    """SIGKILL the session (process group) proc leads."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def time_left(args):
    """Seconds left of the whole run, or None if it has no limit."""
    deadline = getattr(args, "deadline", None)
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def limit_reached(args):
    """Whether the run's programs have met the process limit (a fork bomb)."""
    return sandbox.forks_refused(getattr(args, "pids_events", None)) > 0


# -- building ------------------------------------------------------------------

def make(args, *targets):
    """Run make in the stage directory (in the sandbox, if the run has one:
    the compiler reads what the student's #include names), within the
    build's time limit; returns (returncode or None, output)."""
    cmd = list(getattr(args, "build_sandbox", None) or getattr(args, "sandbox", None) or []) + \
        ["make", "-C", args.dir, "--no-print-directory", f"SAN={args.san}", *targets]
    if args.out:
        cmd += [f"OBJDIR={args.out}", f"BINDIR={args.out}"]
    limits = [t for t in (time_left(args), getattr(args, "build_timeout", None)) if t is not None]
    text, code = run_bounded(cmd, timeout=min(limits, default=None), cwd=args.dir)
    return code, text


BUILD_TIMED_OUT = "The build did not finish within the time limit"
# Lines only the compiler and the grader write (a student's #error is
# prefixed by its file's name): the build was stopped by a limit.
BUILD_STOPPED = (
    ("time limit", re.compile(
        rf"^({BUILD_TIMED_OUT}|\S+: fatal error: CPU time limit exceeded signal)", re.M)),
    ("out of memory", re.compile(
        r"^(\S+: )?(virtual memory exhausted|out of memory allocating)|"
        r"^\S+: fatal error: Killed signal terminated program", re.M)),
)


def build_stopped(log):
    """Which limit stopped a build, from its output: "time limit", "out of
    memory" (the compiler's address space, or the OOM killer), or ""."""
    return next((limit for limit, line in BUILD_STOPPED if line.search(log)), "")


def _build_limit(args):
    """The time limit a build that was stopped met, in words."""
    limit = getattr(args, "build_timeout", None)
    if time_left(args) == 0 or not limit:
        return "the whole run's"
    return f"{limit:g} s a build"


def build(args, target="build-all"):
    """Build the programs and the unit runner (target "all": the programs
    only); returns (ok, output, objdir, bindir)."""
    code, log = make(args, target)
    if code is None:
        log += f"\n{BUILD_TIMED_OUT} ({_build_limit(args)}): it was stopped."
    dirs = make(args, "-s", "dirs")[1].split()
    if len(dirs) != 2:
        return False, log + "\n" + " ".join(dirs), "", ""
    return code == 0, log, dirs[0], dirs[1]


def build_unit(args):
    """After a build that failed (and did not run out of time): build only
    the unit runner, which links the modules and not the program's main
    file, so that a program that does not compile still has its modules'
    unit tests run. Returns whether it built."""
    return make(args, "unit-runner")[0] == 0


# -- running the tests ---------------------------------------------------------

def split_only(only):
    """--only's comma-separated names as (CUnit names, pytest names): rubric
    ids lose their c: or py: prefix; a name with a '/' is a CUnit test, unless
    it names a .py file (py:hidden/FILE::TEST, py:instructor/FILE::TEST)."""
    names = [re.sub(r"^(c|py):", "", n.strip()) for n in (only or "").split(",") if n.strip()]
    unit = [n for n in names if "/" in n and ".py" not in n]
    return unit, [n for n in names if n not in unit]


def run_unit(args, objdir):
    """Run the CUnit tests; returns {id: result}. The verdicts come through a
    pipe of the grader's own (unit --verdicts FD), where only the runner's
    parent process writes, not from the runner's stdout, where code under
    test can print too: stdout gives only each test's failure details."""
    unit_names, _ = split_only(args.only)
    if args.only and not unit_names:
        return {}
    verdicts, write_end = os.pipe()
    cmd = list(getattr(args, "outer", None) or []) + list(getattr(args, "sandbox", None) or []) \
        + [os.path.join(objdir, "unit"), "--verdicts", str(write_end)]
    if getattr(args, "test_timeout", None):
        cmd += ["--timeout", str(int(args.test_timeout))]
    cmd += unit_names
    left = time_left(args)
    try:
        os.set_blocking(verdicts, False)
        text, _ = run_bounded(cmd, timeout=900 if left is None else left, pass_fds=(write_end,),
                              cwd=getattr(args, "unit_cwd", None),
                              stop=lambda: limit_reached(args))
        told = _read_some(verdicts, VERDICTS_MAX)
    finally:
        os.close(verdicts)
        os.close(write_end)
    return parse_unit(told.decode(errors="replace"), text)


def _read_some(fd, most):
    """What the non-blocking descriptor fd holds now, at most most bytes."""
    data = b""
    try:
        while len(data) < most and (chunk := os.read(fd, min(1 << 16, most - len(data)))):
            data += chunk
    except BlockingIOError:
        pass                    # nothing more now
    return data


def parse_unit(verdicts, text):
    """{id: result} from the unit runner's verdicts (lines "VERDICT suite/test"),
    each with its failure details from text, the runner's output. A test with
    more than one verdict was tampered with: it fails."""
    details, results = _unit_details(text), {}
    for line in verdicts.splitlines():
        m = UNIT_LINE.match(line)
        if not m:
            continue
        verdict, name, rest = m.groups()
        tid = f"c:{name}"
        rows = ROWS.search(rest) if verdict == "FAIL" else None
        if tid in results:
            results[tid] = {"outcome": "failed", "output": "", "reason":
                            "more than one verdict came for this test: it is counted as failed"}
            continue
        shown = details.get(tid, {"reason": "", "output": f"{verdict:<8} {name}"})
        results[tid] = {"outcome": "passed" if verdict == "PASS" else "failed",
                        "reason": "" if verdict == "PASS" else shown["reason"],
                        "output": "" if verdict == "PASS" else shown["output"]}
        if rows and int(rows.group(1)) <= int(rows.group(2)):
            results[tid]["rows"] = [int(rows.group(1)), int(rows.group(2))]
            results[tid]["reason"] = f"{rows.group(1)} of {rows.group(2)} rows pass: " + \
                results[tid]["reason"]
    return results


def earned(points, result):
    """The points a test earns: all if it passed; for a table scored by row
    (its result has rows: [passed, of]), its share of the rows that passed,
    down to a half point; else none."""
    if result["outcome"] == "passed":
        return points
    passed, of = result.get("rows") or (0, 0)
    return math.floor(points * passed / of * 2) / 2 if of else 0


SANITIZER_REPORT = re.compile(r"(ERROR: \w+Sanitizer: [^\n]*|runtime error: [^\n]*|"
                              r"WARNING: ThreadSanitizer: [^\n]*)")
STRAY_MAX = 200         # lines kept of what a test printed outside its details


def _unit_details(text):
    """Each test's lines in the unit runner's output: {id: {reason, output}}.
    Details only: code under test may print lines like these too. What came
    before a crashed test's line, unindented (a sanitizer's report, say), is
    that test's output too, and a sanitizer's first line its reason."""
    results, current, stray = {}, None, []
    for line in text.splitlines():
        m = UNIT_LINE.match(line)
        if m:
            verdict, name, rest = m.groups()
            current = results[f"c:{name}"] = {
                "reason": rest.strip(" ()") if verdict in ("CRASH", "TIMEOUT") else "",
                "output": line}
            if verdict in ("CRASH", "TIMEOUT"):
                current["reason"] = f"{verdict.lower()}: {current['reason']}"
            if verdict == "CRASH" and stray:
                _attach_report(current, stray)
            stray = []
        elif current is not None and line.startswith("         "):
            if len(current["output"]) < OUTPUT_MAX:
                current["output"] += "\n" + line
            current["reason"] = current["reason"] or line.strip()
        else:
            stray = (stray + [line])[-STRAY_MAX:]
    return results


def _attach_report(result, lines):
    """Add what a crashed test printed before its verdict to its output, and
    a sanitizer's report to its reason."""
    report = "\n".join(lines)[-OUTPUT_MAX:]
    result["output"] += "\n" + "\n".join("         " + l for l in report.splitlines())
    found = SANITIZER_REPORT.search(report)
    if found:
        result["reason"] += f": {found.group(1).strip()}"


def pytest_command(args, bindir, results_file):
    """The pytest command line for a run of stage args.stage's tests."""
    _, py_names = split_only(args.only)
    node_ids = bool(py_names) and all("::" in n for n in py_names)     # rubric ids
    targets = [os.path.join(HERE, n) for n in py_names] if node_ids else [HERE]
    cmd = list(getattr(args, "outer", None) or []) + PYTEST + ["-c", os.path.join(HERE, "pytest.ini"), "--rootdir", HERE, *targets, "-q",
                    "--tb=short", f"--stage={args.stage}", f"--bin-dir={bindir}",
                    f"--programs={args.programs}", f"--results={results_file}",
                    f"--wrapper={args.wrapper}"]
    if getattr(args, "sandbox", None):
        cmd.append("--sandbox=" + shlex.join(args.sandbox))
    if getattr(args, "test_timeout", None):
        cmd.append(f"--timeout={args.test_timeout}")
    if getattr(args, "pids_events", None):
        cmd.append(f"--pids-events={args.pids_events}")
    cmd += list(getattr(args, "pytest_args", None) or [])
    if py_names and not node_ids:
        cmd += ["-k", " or ".join(py_names)]
    return cmd


def run_pytest(args, bindir, tmp):
    """Run the black-box tests; returns ({id: result}, pytest's output).
    Raises KitError if pytest itself could not run."""
    results_file = os.path.join(tmp, "pytest.json")
    text, code = run_bounded(pytest_command(args, bindir, results_file), timeout=time_left(args))
    if code not in (0, 1, 5, None):       # 5: no test selected; None: out of time
        raise KitError(f"{text}\npytest failed to run (status {code}); see above")
    try:
        with open(results_file) as f:
            tests = json.load(f)["tests"]
    except (FileNotFoundError, ValueError):
        tests = []
    return {t["id"]: t for t in tests}, text


# -- the rows of the table -----------------------------------------------------

def hidden_shipped():
    """Whether the instructor-only tests (harness/hidden/) are here."""
    return os.path.isdir(HIDDEN)


def applies(entry):
    """Whether a rubric entry can run here: hidden tests only where shipped."""
    return hidden_shipped() or not rubric.is_hidden_test(entry.id)


def fill_in(every_entry, args, ran, built, not_run=None):
    """The table's rows: every test of stages 1..N that ran, plus the stage's
    own tests that should have run but did not (say, because the build
    failed). Tests of later stages' modules that ran are left out."""
    entries = {k: v for k, v in every_entry.items() if v.stage <= args.stage and applies(v)}
    rows = []
    for tid, entry in entries.items():
        result = ran.get(tid)
        own = entry.stage == args.stage or (args.stage > 8 and entry.stage <= 8)
        if result is None and not (own and not args.only):
            continue
        if result is None:
            result = {"outcome": "failed", "output": "",
                      "reason": not_run or ("not built: see the compiler's errors above"
                                            if not built else "this test did not run")}
        rows.append({"id": tid, "name": entry.name, "stage": entry.stage,
                     "max_points": entry.points, "points": earned(entry.points, result),
                     "visibility": entry.visibility, **result})
    unknown = sorted(set(ran) - set(every_entry))
    if unknown:
        raise KitError("these tests have no entry in rubric.txt:\n  " + "\n  ".join(unknown))
    return rows


SHOWN_FAILURES = 8


def print_failures(rows):
    """The details of the first few failures: the first one is the one to fix."""
    failed = [r for r in rows if r["outcome"] != "passed"]
    for r in failed[:SHOWN_FAILURES]:
        kind, name = r["id"].split(":", 1)
        print(f"FAILED  {r['name']}\n  ({name}; run it alone: make test T={name.split('::')[-1]})")
        lines = (r.get("output") or r["reason"]).rstrip().splitlines()
        if kind == "c" and lines and UNIT_LINE.match(lines[0]):
            lines = [l.strip() for l in lines[1:]] or [r["reason"]]
        print("\n".join("  " + l for l in lines[:60]))
        print()
    if len(failed) > SHOWN_FAILURES:
        print(f"... and {len(failed) - SHOWN_FAILURES} more failed tests: see the table; "
              "make test T=NAME shows one in full.\n")


def print_table(rows, stage, hidden=0):
    """The points table, stage by stage, names whole; hidden: the points of
    stage's tests that only the instructor runs (hidden_points()). Returns
    {stage: (got, top)}."""
    title = {s: f"Stage {s}" for s in sorted({r["stage"] for r in rows})}
    width = max([60] + [len(r["name"]) for r in rows])
    scores = {}
    for n in title:
        group = [r for r in rows if r["stage"] == n]
        got, top = sum(r["points"] for r in group), sum(r["max_points"] for r in group)
        scores[n] = (got, top)
        note = "" if n == stage or stage > 8 else "  (an earlier stage: must still pass)"
        if n > 8:
            title[n] = "The reference as a proxy people run"
        print(f"{title[n]}{note}")
        for r in group:
            status = "PASS" if r["outcome"] == "passed" else "FAIL"
            print(f"  {r['name']:<{width}} {r['points']:>3g}/{r['max_points']:<3g} {status}")
            if status == "FAIL":
                reason = re.sub(r"^\S+\.c:\d+: ", "", r["reason"])
                print(f"      {reason[:WIDTH + 20]}")
        more = (f"  of {top + hidden:g}: {hidden:g} more in tests your instructor runs"
                if hidden and n == stage else "")
        print(f"  {'total':<{width}} {got:>3g}/{top:<3g}{more}")
    failed, cost = regressions(rows, stage)
    if failed and stage in scores:
        got, top = scores[stage]
        print(f"Earlier stages' tests that fail cost their points here: {len(failed)} fail, "
              f"-{cost:g}, so stage {stage} scores {max(0, got - cost):g}/{top:g}")
    return scores


def regressions(rows, stage):
    """The earlier stages' tests that failed in a run of stage's tests, and
    what they cost the stage's score: (those rows, points). Each costs what
    it loses in its own stage: a later stage must not break an earlier one.
    The reference (stage 9) has no earlier stage."""
    failed = [r for r in rows if r["stage"] < stage <= 8 and r["outcome"] != "passed"]
    return failed, sum(r["max_points"] - r["points"] for r in failed)


def hidden_points(entries, stage):
    """The points of stage's tests that are not shipped here (harness/hidden/)."""
    if hidden_shipped():
        return 0
    return sum(e.points for e in entries.values()
               if e.stage == stage and rubric.is_hidden_test(e.id))


# Sanitizers stop at their first report, so that it fails the test it happened in.
SANITIZER_ENV = {"ASAN_OPTIONS": "abort_on_error=0:halt_on_error=1",
                 "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
                 "TSAN_OPTIONS": "halt_on_error=1:second_deadlock_stack=1"}


def set_sanitizer_env():
    """Set SANITIZER_ENV's options, unless the caller set them already."""
    for name, value in SANITIZER_ENV.items():
        os.environ.setdefault(name, value)


def load_rubric(prog):
    """The rubric's entries, or exit naming the problem."""
    try:
        return rubric.load()
    except rubric.RubricError as e:
        sys.exit(f"{prog}: {e}")
