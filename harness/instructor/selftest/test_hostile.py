"""The grader against hostile submissions (harness/instructor/hostile/): fork bombs (in
the program, and in a module), a program that never exits, one that
ignores SIGTERM, one that fills the disk, one that prints megabytes, and
one that prints forged verdicts. Each is the reference's answer to stage 1
(or, where its header says "(the starter)", stage 1's starter) with the
snippet appended to the file its header names. All are graded in one
batch, with the plain starter beside them, within a bounded time; each
gets zero on the tests it fails and full marks where it earns them; and
nothing of them is left running. Those whose header says "Graded: alone"
(a memory bomb, a compile bomb) are graded one by one."""
import contextlib
import csv
import glob
import json
import math
import os
import re
import shutil
import socket
import tempfile
import time

import pytest

from graders import INSTRUCTOR, ROOT, answer, grade, own_points, sandbox_processes
from kit import sandbox

pytestmark = pytest.mark.timeout(600)

TEST_TIMEOUT = 10       # seconds per test (CUnit tests run beside a fork bomb)
TIME_LIMIT = 30         # seconds per submission (graded --plain: one build; the
                        # sanitizer build is test_grader.py's to test)
# What each earns: the CUnit tests' points, everything, nothing, or what the
# plain starter earns.
EXPECTED = {"forkbomb": "c:", "spins": "c:", "fills_disk": "c:", "prints_megabytes": "c:",
            "ignores_sigterm": "all", "forges_verdicts": "starter", "escapes": "all",
            "forkbomb_module": "none"}
SECRET = "PROXYLAB_SELFTEST_SECRET"     # in the graders' environment, never in a submission's
FAIL_FAST = 20          # seconds: a fork bomb's grade, build included (it waited out
                        # every test: 350 s alone, or the whole run's limit)
BOMB_SECONDS = 30       # a compile bomb's grade (it took 90 s, and 4 GiB)


def starter(dest):
    """A copy of stage 1's starter (its given files, TODOs not done); returns dest."""
    shutil.copytree(os.path.join(ROOT, "stages", "1-echo"), dest,
                    ignore=shutil.ignore_patterns("build", "echoserver", "log.txt"))
    return str(dest)


@contextlib.contextmanager
def grader_workspaces():
    """A directory for the graders' workspaces (their TMPDIR), of this test's
    own, which the sandbox uid can pass through (pytest's are the owner's
    alone), so that sandbox_processes() sees this grading's only."""
    workspaces = tempfile.mkdtemp(prefix="hostile-graders-")
    os.chmod(workspaces, 0o711)
    try:
        yield workspaces
    finally:
        shutil.rmtree(workspaces, ignore_errors=True)


def alone(tmp, name):
    """The submission of harness/instructor/hostile/NAME.c, which is graded alone."""
    return [s for s in hostile_submissions(tmp, {}, alone=True)
            if os.path.basename(s) == name][0]


def hostile_submissions(tmp, fill, alone=False):
    """A submission directory per file of harness/instructor/hostile/, with each
    placeholder of fill ({"@KIT@": path, ...}) filled in: those graded in
    the batch, or (alone) those whose header says "Graded: alone"."""
    subs = []
    for path in sorted(glob.glob(os.path.join(INSTRUCTOR, "hostile", "*.c"))):
        name = os.path.basename(path)[:-2]
        snippet = open(path).read()
        if ("Graded: alone" in snippet) != alone:
            continue
        for placeholder, value in fill.items():
            snippet = snippet.replace(placeholder, value)
        target = re.search(r"Appended to: (\S+\.c)", snippet).group(1)
        base = starter if "(the starter)" in snippet else lambda d: answer(1, d)
        sub = base(os.path.join(tmp, name))
        with open(os.path.join(sub, target), "a") as f:
            f.write("\n" + snippet)
        subs.append(sub)
    return subs + ([] if alone else [starter(os.path.join(tmp, "starter"))])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every hostile submission graded in one batch: ({student: CSV row},
    seconds taken, the submissions, where the graders worked, the grading's
    peak resident memory in KiB, the listener escapes.c must not reach,
    {student: full result})."""
    tmp = tmp_path_factory.mktemp("hostile")
    with grader_workspaces() as workspaces, \
            socket.create_server(("127.0.0.1", 0)) as outside:  # escapes.c must not reach it
        outside.setblocking(False)
        port = outside.getsockname()[1]
        subs = hostile_submissions(str(tmp), {"@KIT@": ROOT, "@PORT@": str(port),
                                              "@WORKSPACES@": workspaces})
        # The longest first: spins takes the whole run's limit on one worker
        # while the others share the second.
        subs.sort(key=lambda s: os.path.basename(s) != "spins")
        out = tmp / "hostile.csv"
        start = time.monotonic()
        r = grade("--stage", 1, "-j", 2, "--test-timeout", TEST_TIMEOUT, "--time-limit",
                  TIME_LIMIT, "--plain", "--csv", out, "--out-dir", tmp / "each", *subs,
                  timeout=400, env={"TMPDIR": workspaces, SECRET: "1"})
        seconds = time.monotonic() - start
        assert r.returncode == 0, r.stdout + r.stderr
        results = {os.path.basename(s): json.load(open(tmp / "each" / os.path.basename(s) /
                                                       "result.json")) for s in subs}
        yield ({row["student"]: row for row in csv.DictReader(open(out))}, seconds, subs,
               workspaces, r.maxrss_kib, outside, results)


def test_every_hostile_submission_is_graded(graded):
    rows, _, subs, *_ = graded
    assert sorted(rows) == sorted(os.path.basename(s) for s in subs) == \
        sorted(EXPECTED) + ["starter"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_points_where_earned_and_zero_where_not(graded, name):
    row = graded[0][name]
    tests = {k: float(v) for k, v in row.items() if k.startswith(("c:", "py:"))}
    if EXPECTED[name] == "all":
        assert float(row["total"]) == 100, (row["reason"], row["notes"],
                                            [k for k, v in tests.items() if v == 0])
    elif EXPECTED[name] == "none":
        assert float(row["total"]) == 0 and all(v == 0 for v in tests.values()), row
    elif EXPECTED[name] == "starter":     # forged verdicts gain nothing
        plain = graded[0]["starter"]
        assert row["total"] == plain["total"] and float(row["total"]) < 50, (row, plain)
        assert {k: v for k, v in row.items() if k.startswith("c:")} == \
            {k: v for k, v in plain.items() if k.startswith("c:")}, (row, plain)
    else:
        assert float(row["total"]) == own_points(1, "c:"), (row["reason"], row["notes"], [
            k for k, v in tests.items() if k.startswith("c:") and v == 0])
        assert all(v == 0 for k, v in tests.items() if k.startswith("py:")), row


@pytest.mark.parametrize("name", ["forkbomb", "forkbomb_module"])
def test_a_fork_bomb_fails_fast(graded, name):
    """A fork bomb meets the process limit in the first program that runs it
    (echoserver in its first test, or the CUnit runner): what was running
    then says so, nothing more is run (each test not run scores 0, with the
    reason), and the grade takes seconds."""
    result, row = graded[6][name], graded[0][name]
    assert row["reason"].startswith(sandbox.FORK_BOMB), row
    assert any(n.startswith("A fork bomb") for n in result["notes"]), result["notes"]
    failed = [r for r in result["tests"] if r["outcome"] != "passed"]
    assert failed and all(r["points"] == 0 for r in failed), failed
    assert all(r["reason"] == f"not run: {sandbox.FORK_BOMB}" for r in failed[1:]), failed
    assert failed[0]["reason"].startswith((sandbox.FORK_BOMB, "not run: " + sandbox.FORK_BOMB))
    assert result["execution_time"] < FAIL_FAST, result["execution_time"]


def test_graded_within_the_time_limits(graded):
    """The submissions, two at a time: at most a round of the whole run's
    limit for each pair, plus building and the rubric check."""
    assert graded[1] < math.ceil(len(graded[2]) / 2) * TIME_LIMIT + 60


def test_grader_memory_stays_small(graded):
    """forges_verdicts prints 128 MiB of verdict lines: the grader, and every
    process it waited for, stayed under 256 MiB resident (about 64 MiB here;
    a grader that kept every verdict line took several times that)."""
    peak_mib = graded[4] // 1024
    assert peak_mib < 256, f"the grading peaked at {peak_mib} MiB resident"


def test_nothing_is_left_running(graded):
    assert sandbox_processes(graded[3]) == []


def test_escapes_left_nothing_and_reached_nothing(graded):
    """escapes.c earned full marks (it found none of what it looked for) and
    what it wrote in /tmp and /dev/shm went with its sandbox; the listener
    outside the sandbox took no connection."""
    port = graded[5].getsockname()[1]
    for left in (f"/tmp/hostile-escapes-{port}", f"/dev/shm/hostile-escapes-{port}"):
        assert not os.path.exists(left), f"{left} outlived the grading"
    with pytest.raises(BlockingIOError):
        graded[5].accept()


def test_escapes_do_reach_without_the_sandbox(graded, tmp_path):
    """The control: graded with --no-sandbox, escapes.c reads the kit and
    loses every black-box point, so its full marks above mean the sandbox
    kept it in."""
    sub = [s for s in graded[2] if os.path.basename(s) == "escapes"][0]
    r = grade("--stage", 1, "--no-sandbox", "--test-timeout", TEST_TIMEOUT, sub, timeout=300)
    assert json.loads(r.stdout.splitlines()[-1])["scores"]["stage1"] == own_points(1, "c:"), \
        r.stdout
    assert "WARNING: --no-sandbox" in r.stdout


def test_a_grade_is_held_to_its_memory(tmp_path):
    """memory_bomb's three children fill 3 GiB each: the grade's cgroup (4
    GiB in all) stops them, the grader says so, and the tests are served.
    Where the host has no cgroup, the grader says that instead (and this
    test fails: the bound is not there)."""
    sub = alone(str(tmp_path), "memory_bomb")
    out = tmp_path / "bomb.json"
    grade("--stage", 1, "--test-timeout", TEST_TIMEOUT, "--time-limit", TIME_LIMIT, "--json",
          out, "--plain", sub, timeout=300)      # the bomb is in the unit runner: plain will do
    result = json.load(open(out))
    assert any("out-of-memory killer" in n for n in result["notes"]), result["notes"]
    assert result["score"] == 100, result["output"]


@pytest.mark.parametrize("limit, flags", [("out of memory", ()),
                                          ("time limit", ("--build-timeout", 1))])
def test_a_compile_bomb_is_stopped(tmp_path, limit, flags):
    """compile_bomb's cc1 would grow to tens of GiB for minutes: the build's
    address-space limit stops it within seconds, and the grade's peak
    memory stays under that limit; with a build time limit of 1 s, the
    build's process group is killed first. Either way: 0 points, the
    reason (the CSV's), and nothing left running."""
    sub, out = alone(str(tmp_path), "compile_bomb"), tmp_path / "bomb.json"
    with grader_workspaces() as workspaces:
        start = time.monotonic()
        r = grade("--stage", 1, "--plain", "--json", out, *flags, sub, timeout=300,
                  env={"TMPDIR": workspaces})
        seconds = time.monotonic() - start
        assert sandbox_processes(workspaces) == []
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.load(open(out))
    assert (result["reason"], result["score"], result["built"]) == (f"build: {limit}", 0, False), \
        result["output"]
    assert seconds < BOMB_SECONDS, f"the compile bomb took {seconds:.0f} s to grade"
    peak = r.maxrss_kib << 10
    assert peak < sandbox.BUILD_ADDRESS_SPACE, f"the grading peaked at {peak >> 20} MiB resident"
