"""Self-tests of what package.py cuts: the student handout (extracted in a
fresh directory, a stage built and tested there), Gradescope's autograder
zip (run_autograder run with /autograder moved to a temporary directory)
and Autolab's autograde-Makefile with autograde.tar."""
import json
import os
import re
import shutil
import subprocess
import tarfile
import zipfile

import pytest

from graders import HARNESS, ROOT, answer, own_points

pytestmark = pytest.mark.timeout(600)
PACKAGE = ["/usr/bin/python3", os.path.join(HARNESS, "package.py")]


def package(*args):
    """Run package.py with args."""
    subprocess.run(PACKAGE + [str(a) for a in args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    """Stage 1's handout, extracted in a fresh directory; returns its top."""
    tmp = tmp_path_factory.mktemp("handout")
    package("handout", "--stage", 1, tmp / "handout.tar.gz")
    (tmp / "fresh").mkdir()
    subprocess.run(["tar", "xzf", tmp / "handout.tar.gz", "-C", tmp / "fresh"], check=True)
    return tmp / "fresh" / "proxylab"


def test_handout_holds_what_students_need_and_nothing_more(handout):
    for needed in ("labs.md", "README.md", "STAGE", "harness/grade", "harness/stage.mk",
                   "tests/unit.c", "stages/1-echo/Makefile", "docs/usage.md",
                   ".github/workflows/classroom.yml"):
        assert (handout / needed).exists(), needed
    for absent in ("solution", "harness/hidden", "harness/hostile", "harness/package.py",
                   "harness/selftest", "harness/teeth.py", "docs/instructors.md",
                   "stages/2-http", "harness/test_stage2_http.py", "tests/test_http.c",
                   "harness/test_reference_faults.py"):
        assert not (handout / absent).exists(), absent
    rubric_text = (handout / "harness/rubric.txt").read_text()
    assert "hidden/test_stage1_hidden.py" not in rubric_text
    assert "test_stage2_http.py" not in rubric_text and "c:http/" not in rubric_text
    labs = (handout / "labs.md").read_text()
    assert "## Stage 1:" in labs and "## Stage 2:" not in labs
    assert (handout / "STAGE").read_text() == "1\n"


def test_handout_workflow_grades_the_stage_on_push(handout):
    flow = (handout / ".github/workflows/classroom.yml").read_text()
    assert re.search(r"^on: \[push", flow, re.M)
    assert "harness/grade\" --stage" in flow and "apt-get install" in flow
    assert "@" not in flow.replace("actions/checkout@", "").replace("actions/upload-artifact@", "")
    # The tests that grade are a pinned kit's, not the student's own (unless none is set,
    # which the run's summary then says).
    assert "repository: ${{ vars.PROXYLAB_KIT_REPO }}" in flow
    assert "ref: ${{ vars.PROXYLAB_KIT_REF }}" in flow and "WARNING: no pinned kit" in flow


def test_platforms_install_only_what_the_readme_installs():
    from package import GRADING_PACKAGES
    readme = open(os.path.join(ROOT, "README.md")).read()
    listed = set(re.search(r"apt-get install -y (.*)", readme).group(1).split())
    assert set(GRADING_PACKAGES.split()) <= listed


def test_handout_builds_and_passes_stage_1_in_a_fresh_directory(handout, tmp_path):
    stage = handout / "stages" / "1-echo"
    for f in os.listdir(answer(1, tmp_path / "answer")):
        shutil.copy(tmp_path / "answer" / f, stage)
    r = subprocess.run(["make", "-C", stage, "test"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^\d+ passed, 0 failed$", r.stdout, re.M)
    assert "tests your instructor runs" in r.stdout
    g = subprocess.run(["make", "-s", "-C", stage, "grade"], capture_output=True, text=True)
    visible = own_points(1, "c:") + own_points(1, "py:") - hidden_points()
    assert json.loads(g.stdout.splitlines()[-1])["scores"] == {"stage1": visible}, g.stdout


def hidden_points():
    """The points of stage 1's hidden tests."""
    from kit import rubric
    return sum(e.points for e in rubric.load().values()
               if e.stage == 1 and rubric.is_hidden_test(e.id))


def unzip(path, dest):
    """Extract a zip as unzip does, with its files' modes."""
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            z.extract(info, dest)
            mode = info.external_attr >> 16
            if mode:
                os.chmod(os.path.join(dest, info.filename), mode & 0o777)


def test_gradescope_run_autograder(tmp_path):
    package("gradescope", "--stage", 1, tmp_path / "ag.zip")
    ag = tmp_path / "autograder"
    unzip(tmp_path / "ag.zip", ag / "source")
    setup = (ag / "source" / "setup.sh").read_text()
    assert "apt-get install" in setup and "libcunit1-dev" in setup
    assert (ag / "source" / "harness" / "hidden").is_dir()
    answer(1, ag / "submission")
    r = subprocess.run([ag / "source" / "run_autograder"], capture_output=True, text=True,
                       env={**os.environ, "AUTOGRADER_DIR": str(ag)})
    assert r.returncode == 0, r.stdout + r.stderr
    results = json.loads((ag / "results" / "results.json").read_text())
    assert results["score"] == 100 and results["tests"]
    assert any(t["visibility"] == "after_due_date" for t in results["tests"])


def test_gradescope_results_even_when_the_grader_fails(tmp_path):
    """A grader that cannot run still leaves a results.json with score 0."""
    package("gradescope", "--stage", 1, tmp_path / "ag.zip")
    ag = tmp_path / "autograder"
    unzip(tmp_path / "ag.zip", ag / "source")
    (ag / "source" / "harness" / "rubric.txt").write_text("nonsense\n")
    (ag / "submission").mkdir()
    subprocess.run([ag / "source" / "run_autograder"], capture_output=True,
                   env={**os.environ, "AUTOGRADER_DIR": str(ag)}, check=True)
    results = json.loads((ag / "results" / "results.json").read_text())
    assert results["score"] == 0 and "autograder failed" in results["output"]


def test_autolab_autograde_makefile(tmp_path):
    package("autolab", "--stage", 1, tmp_path / "out")
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(tmp_path / "out" / "autograde-Makefile", work / "Makefile")
    shutil.copy(tmp_path / "out" / "autograde.tar", work)
    sub = answer(1, tmp_path / "sub")
    with tarfile.open(work / "handin.tar", "w") as t:
        for f in os.listdir(sub):
            t.add(os.path.join(sub, f), f)
    top_level = {k: v for k, v in os.environ.items()      # as Autolab runs it: not under make
                 if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    r = subprocess.run(["make"], cwd=work, capture_output=True, text=True, env=top_level)
    assert r.returncode == 0, r.stdout + r.stderr
    last = json.loads(r.stdout.rstrip("\n").splitlines()[-1])
    assert last == {"scores": {"stage1": 100}, "scoreboard": [100]}


def test_the_kits_own_files_do_not_ship_to_students():
    from package import HANDOUT_EXCLUDE
    assert os.path.isdir(os.path.join(ROOT, "solution"))
    assert all(os.path.exists(os.path.join(ROOT, p)) or p == "harness/mutants/"
               for p in HANDOUT_EXCLUDE)
