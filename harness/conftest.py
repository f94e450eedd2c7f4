"""pytest glue for the black-box tests.

Options (make test passes them):
  --stage N        run the tests of stages 1..N (from rubric.txt) ...
  --programs "P"   ... that exercise one of these programs (default: all)
  --bin-dir DIR    where the programs under test are
  --wrapper CMD    run each program under CMD (e.g. "valgrind -q")
  --results FILE   write each test's outcome and reason there, as JSON
                   (rewritten after every test, so a run cut short keeps them)
  --sandbox CMD    run each program under test in this sandbox (the grader's)
  --grace S        seconds a program has to exit after SIGTERM when a test
                   ends, before SIGKILL (default 5)
  --pids-events F  the pids.events file of the cgroup the programs run in (the
                   grader's): once it counts a refused fork, a program met the
                   process limit (a fork bomb), and no further test runs

Without --stage, only the harness's self-tests (instructor/selftest/) run.
"""
import json
import os
import pathlib
import shlex
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kit import rubric  # noqa: E402
from kit.origin import Origin  # noqa: E402
from kit import proc, sandbox  # noqa: E402
from kit.proc import Program, ProgramError  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PYTEST_VERSION = tuple(int(n) for n in pytest.__version__.split(".")[:2] if n.isdigit())


def pytest_addoption(parser):
    group = parser.getgroup("proxylab")
    group.addoption("--stage", type=int, help="run the tests of stages 1..N")
    group.addoption("--programs", default="", help="only tests of these programs")
    group.addoption("--bin-dir", help="directory of the programs under test")
    group.addoption("--wrapper", default="", help="command to run each program under")
    group.addoption("--results", help="write results as JSON to this file")
    group.addoption("--sandbox", default="", help="sandbox command for programs under test")
    group.addoption("--grace", type=float, default=5.0,
                    help="seconds from SIGTERM to SIGKILL when a program is stopped")
    group.addoption("--pids-events", help="the programs' cgroup's pids.events (the grader's)")


def ignored(path, config):
    """Whether pytest skips path (a pathlib.Path): the self-tests under
    --stage, and every other test without it."""
    in_selftest = "selftest" in path.relative_to(HERE).parts \
        if path.is_relative_to(HERE) else False
    if config.getoption("--stage") is None:
        return not in_selftest and path.suffix == ".py"
    return in_selftest


# The hook's path argument is pathlib's collection_path from pytest 7 (py.path's
# path, before, is deprecated there), and path alone in pytest 6, which the
# grader supports (Gradescope's Ubuntu 22.04 has pytest 6.2.5).
if PYTEST_VERSION >= (7,):
    def pytest_ignore_collect(collection_path, config):
        return ignored(collection_path, config)
else:
    def pytest_ignore_collect(path, config):
        return ignored(pathlib.Path(str(path)), config)


def rubric_id(item):
    """py:FILE::TEST, with FILE's path in harness/: py:hidden/FILE::TEST for a
    test in harness/hidden/, py:instructor/FILE::TEST in harness/instructor/."""
    path = os.path.relpath(os.path.abspath(item.module.__file__), HERE).replace(os.sep, "/")
    return f"py:{path}::{item.nodeid.split('::', 1)[1]}"


def pytest_collection_modifyitems(session, config, items):
    stage = config.getoption("--stage")
    if stage is None:
        return
    if not config.getoption("--bin-dir"):
        raise pytest.UsageError("--stage needs --bin-dir DIR (the programs to test)")
    try:
        entries = rubric.load()
    except rubric.RubricError as e:
        raise pytest.UsageError(str(e)) from None
    missing = [rubric_id(i) for i in items if rubric_id(i) not in entries]
    if missing:
        raise pytest.UsageError(f"tests with no entry in {rubric.PATH}:\n  " + "\n  ".join(missing))
    programs = config.getoption("--programs").split()
    keep, drop = [], []
    for item in items:
        entry = entries[rubric_id(item)]
        program = getattr(item.module, "PROGRAM", None)
        wanted = entry.stage <= stage and (not programs or program in programs)
        (keep if wanted else drop).append(item)
        item.user_properties.append(("stage", entry.stage))
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep


# -- programs under test --------------------------------------------------------

@pytest.fixture
def start_program(request, tmp_path):
    """start_program(args, name=None, prefix=(), wrapped=True) starts the
    module's PROGRAM (or name) from --bin-dir with args ("{port}" becomes its
    port), under the command prefix if any (e.g. prlimit) and, if wrapped,
    the --wrapper (valgrind), and waits until it listens. Every program started is stopped after the test, and the test
    fails if one crashed or a sanitizer reported an error."""
    config = request.config
    started = []

    def start(args=("{port}",), name=None, prefix=(), wrapped=True):
        name = name or request.module.PROGRAM
        path = os.path.join(config.getoption("--bin-dir"), name)
        wrapper = list(prefix) + (shlex.split(config.getoption("--wrapper")) if wrapped else [])
        program = Program(path, args, tmp_path,     # the grader's sandbox goes first, and is quick
                          wrapper=shlex.split(config.getoption("--sandbox")) + wrapper,
                          startup_timeout=60 if wrapper else 30)
        error = None
        try:
            program.start()
        except ProgramError as e:
            error = str(e)          # fail outside the handler: no chained traceback
        if error:
            pytest.fail(error, pytrace=False)
        started.append(program)
        return program

    request.node.programs = started
    yield start
    problems = []
    for program in started:
        if program.proc is None:
            continue
        died = not program.running()
        program.stop(grace=config.getoption("--grace"))
        if died and not program.expected_exit and program.proc.returncode is not None:
            problems.append(f"{program.name} stopped during the test: {program.explain()}")
        report = program.sanitizer_report()
        if report:
            problems.append(f"{program.name}: {report.splitlines()[0].strip()}\n"
                            f"(reported by a sanitizer or valgrind:)\n{report}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def server(start_program):
    """The module's PROGRAM, started with its port as the only argument."""
    return start_program()


@pytest.fixture
def no_pool(request):
    """Arguments that turn off the proxy's pool of origin connections
    (--origin-pool 0); none below stage 3, where there is no proxy. For tests
    that count the proxy's descriptors, which pooled connections would add
    to; test_reference_pool.py tests the pool's own bound."""
    return ["--origin-pool", "0"] if request.config.getoption("--stage") >= 3 else []


@pytest.fixture
def origin():
    """The local origin stub (kit/origin.py), on a port of its own."""
    with Origin() as o:
        yield o


# -- results --------------------------------------------------------------------

# Each test's result, by rubric id: one pytest session per process. (Not
# config.stash, which needs pytest 7; Ubuntu 22.04, Gradescope's base image,
# has pytest 6.2.)
RESULTS = {}
OUTPUT_MAX = 16000      # characters of a test's output kept in the results


def _reason(report, call):
    """A one-line reason for a failure, for the points table."""
    if call.excinfo is None:
        return ""
    text = report.longrepr if isinstance(report.longrepr, str) else call.excinfo.exconly()
    for prefix in ("Failed: ", "AssertionError: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return next((l.strip() for l in text.splitlines() if l.strip()), text)


def _fork_bomb(reason):
    """A failure's reason, said to follow a fork bomb if it did."""
    if not proc.limit_reached() or reason.startswith(sandbox.FORK_BOMB):
        return reason
    return f"{sandbox.FORK_BOMB} during this test: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Record each test's outcome, first reason and full output; after a
    fork bomb, stop: the tests not run score 0 (the grader says why)."""
    report = (yield).get_result()
    if proc.limit_reached():
        item.session.shouldfail = sandbox.FORK_BOMB
    tid = rubric_id(item)
    result = RESULTS.setdefault(tid, {"id": tid, "outcome": "passed", "reason": "", "output": ""})
    if report.skipped and result["outcome"] == "passed":
        result.update(outcome="skipped", reason="skipped: a skipped test earns nothing")
    if not report.failed:
        return
    programs = getattr(item, "programs", [])
    if report.when == "call" and call.excinfo and call.excinfo.errisinstance(OSError):
        # A socket error: say so plainly, with the state of the programs.
        report.longrepr = f"a socket call failed: {call.excinfo.exconly()}\n" + "\n".join(
            "  " + p.explain() for p in programs)
    elif report.when == "call" and call.excinfo and call.excinfo.errisinstance(AssertionError) \
            and str(call.excinfo.value).startswith("origin:"):
        # The origin stub waited for a request that never came: no traceback.
        report.longrepr = (f"{call.excinfo.value}\n  the origin stub never received that "
                           "request through the proxy (is it forwarded? are clients served "
                           "at once?)\n" + "\n".join("  " + p.explain() for p in programs))
    elif report.when == "call":
        for program in programs:
            if program.proc and not program.running():
                report.sections.append((f"{program.name} state", program.explain()))
    if result["outcome"] != "failed":
        result.update(outcome="failed", reason=_fork_bomb(_reason(report, call)))
    result["output"] += ("\n" if result["output"] else "") + report.longreprtext + "".join(
        f"\n--- {title} ---\n{body}" for title, body in report.sections
        if not title.startswith("Captured"))
    result["output"] = result["output"][:OUTPUT_MAX]


def write_results(config):
    """Write every result so far to --results (atomically)."""
    path = config.getoption("--results")
    if path and config.getoption("--stage") is not None:
        with open(path + ".new", "w") as f:
            json.dump({"tests": list(RESULTS.values())}, f, indent=1)
        os.replace(path + ".new", path)


def pytest_runtest_logfinish(nodeid, location):
    """After each test: its result is on disk even if the run is then killed."""
    write_results(CONFIG[0])


CONFIG = []


def pytest_configure(config):
    CONFIG[:] = [config]
    proc.SANDBOX[:] = shlex.split(config.getoption("--sandbox") or "")
    proc.PIDS_EVENTS[:] = [config.getoption("--pids-events")] if config.getoption(
        "--pids-events") else []


def pytest_sessionfinish(session):
    write_results(session.config)
