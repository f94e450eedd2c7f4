"""The grader against hostile submissions (harness/hostile/): a fork bomb, a
program that never exits, one that ignores SIGTERM, one that fills the disk
and one that prints megabytes. Each is the reference's answer to stage 1
with the snippet appended to the file its header names. All are graded in
one batch, within a bounded time; each gets zero on the tests it fails and
full marks where it earns them; and nothing of them is left running."""
import csv
import glob
import os
import re
import time

import pytest

from graders import HARNESS, answer, grade, own_points, sandbox_processes

pytestmark = pytest.mark.timeout(600)

TEST_TIMEOUT = 10       # seconds per test (CUnit tests run beside a fork bomb)
TIME_LIMIT = 30         # seconds per submission
# What each earns: the CUnit tests' points, or everything.
EXPECTED = {"forkbomb": "c:", "spins": "c:", "fills_disk": "c:", "prints_megabytes": "c:",
            "ignores_sigterm": "all"}


def hostile_submissions(tmp):
    """A submission directory per file of harness/hostile/."""
    subs = []
    for path in sorted(glob.glob(os.path.join(HARNESS, "hostile", "*.c"))):
        name = os.path.basename(path)[:-2]
        snippet = open(path).read()
        target = re.search(r"Appended to: (\S+\.c)", snippet).group(1)
        sub = answer(1, os.path.join(tmp, name))
        with open(os.path.join(sub, target), "a") as f:
            f.write("\n" + snippet)
        subs.append(sub)
    return subs


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every hostile submission graded in one batch: ({student: CSV row},
    seconds taken, the submissions)."""
    tmp = tmp_path_factory.mktemp("hostile")
    subs = hostile_submissions(str(tmp))
    out = tmp / "hostile.csv"
    start = time.monotonic()
    r = grade("--stage", 1, "-j", 2, "--test-timeout", TEST_TIMEOUT, "--time-limit", TIME_LIMIT,
              "--csv", out, *subs, timeout=400)
    seconds = time.monotonic() - start
    assert r.returncode == 0, r.stdout + r.stderr
    return {row["student"]: row for row in csv.DictReader(open(out))}, seconds, subs


def test_every_hostile_submission_is_graded(graded):
    rows, _, subs = graded
    assert sorted(rows) == sorted(os.path.basename(s) for s in subs) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_points_where_earned_and_zero_where_not(graded, name):
    row = graded[0][name]
    tests = {k: float(v) for k, v in row.items() if k.startswith(("c:", "py:"))}
    if EXPECTED[name] == "all":
        assert float(row["total"]) == 100, row
    else:
        assert float(row["total"]) == own_points(1, "c:"), row
        assert all(v == 0 for k, v in tests.items() if k.startswith("py:")), row


def test_graded_within_the_time_limits(graded):
    """Five submissions, two at a time: at most three rounds of the whole
    run's limit, plus building and the rubric check."""
    assert graded[1] < 3 * TIME_LIMIT + 60


def test_nothing_is_left_running(graded):
    assert sandbox_processes() == []
