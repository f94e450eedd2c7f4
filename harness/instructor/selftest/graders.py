"""Helpers for the grader's self-tests: run harness/grade, make submissions."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

INSTRUCTOR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.dirname(INSTRUCTOR)
for _path in (HARNESS, INSTRUCTOR):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from kit import rubric, sandbox, submission  # noqa: E402

ROOT = os.path.dirname(HARNESS)
GRADE = os.path.join(HARNESS, "grade")
WORKSPACE = re.compile(r"/grade-[^/ ]+/kit/stages/")     # where a grade builds (grade-XXXX)
GRADERS = []            # the pid of every harness/grade these self-tests started


def grade(*args, env=None, timeout=600, cwd=None, check_rubric=False):
    """Run harness/grade; returns the CompletedProcess (text), with maxrss_kib:
    the peak resident memory of the grader or of any process it waited for.
    The rubric check, which builds the stage's pristine unit runner, is
    skipped unless check_rubric: test_grader.py tests it on its own."""
    flags = [] if check_rubric or "--check-rubric" in args else ["--skip-rubric-check"]
    cmd = [GRADE, *flags, *map(str, args)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd,
                             env={**os.environ, **(env or {})})
        GRADERS.append(p.pid)
        fired = []
        limit = threading.Timer(timeout, lambda: (fired.append(True), p.kill()))
        limit.start()                               # a safety net: a grade ends by itself
        _, status, usage = os.wait4(p.pid, 0)       # its own usage, not the test run's
        limit.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        if fired:
            raise subprocess.TimeoutExpired(cmd, timeout)
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(cmd, p.returncode, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))
    done.maxrss_kib = usage.ru_maxrss
    return done


def grade_files(tmp, *args):
    """Grade with every output written under tmp; returns (process, results
    dict, JUnit path, full result dict)."""
    paths = {k: os.path.join(tmp, k) for k in ("results.json", "junit.xml", "full.json")}
    r = grade(*args, "--results", paths["results.json"], "--junit", paths["junit.xml"],
              "--json", paths["full.json"])
    assert r.returncode == 0, r.stdout + r.stderr
    with open(paths["results.json"]) as f, open(paths["full.json"]) as g:
        return r, json.load(f), paths["junit.xml"], json.load(g)


_ANSWERS = {}
_ANSWERS_DIR = []       # a TemporaryDirectory, removed when the test run ends


def answer(stage, dest):
    """Copy the reference's answer to stage N (its .c files) into dest; returns dest."""
    if not _ANSWERS_DIR:
        _ANSWERS_DIR.append(tempfile.TemporaryDirectory(prefix="answers-"))
    if stage not in _ANSWERS:
        _ANSWERS[stage] = submission.answers(stage, os.path.join(_ANSWERS_DIR[0].name, str(stage)))
    shutil.copytree(_ANSWERS[stage], dest, dirs_exist_ok=True)
    return str(dest)


def own_points(stage, kind):
    """The points of stage N's tests of one kind ("c:" or "py:"), here."""
    return sum(e.points for e in rubric.load().values()
               if e.stage == stage and e.id.startswith(kind)
               and (not rubric.is_hidden_test(e.id) or os.path.isdir(os.path.join(HARNESS, "hidden"))))


def sandbox_processes(tmpdir):
    """Processes of the sandbox uid of a grader these self-tests started, or
    whose command names a grader's workspace in tmpdir (the TMPDIR the test
    gave its graders): all that their grading could have left. Another
    grading on the machine, an instructor's or a second test run, is not
    counted."""
    ours = {sandbox.UID_BASE + pid for pid in GRADERS}
    workspace = re.compile(re.escape(str(tmpdir).rstrip("/")) + WORKSPACE.pattern)
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{pid}").st_uid
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if uid in ours or workspace.search(cmd):
            found.append(f"{pid} uid {uid}: {cmd[:200]}")
    return found
