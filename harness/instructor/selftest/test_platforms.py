"""Self-tests of what package.py cuts: the student handout (extracted in a
fresh directory, a stage built and tested there), Gradescope's autograder
zip (run_autograder run with /autograder moved to a temporary directory)
and Autolab's autograde-Makefile with autograde.tar; and that the grading
kit uses no Python or pytest newer than the oldest base it supports
(platforms/check-old-base runs it there, too slowly for make test)."""
import ast
import json
import os
import re
import shutil
import subprocess
import tarfile
import zipfile

import pytest

from graders import INSTRUCTOR, ROOT, answer, own_points

pytestmark = pytest.mark.timeout(600)
PACKAGE = ["/usr/bin/python3", os.path.join(INSTRUCTOR, "package.py")]


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
    for absent in ("solution", "harness/hidden", "harness/instructor", "docs/instructors.md",
                   "stages/2-http", "harness/test_stage2_http.py", "tests/test_http.c"):
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
    assert not (ag / "source" / "harness" / "instructor").exists()
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
    assert all(os.path.isdir(os.path.join(ROOT, p)) for p in HANDOUT_EXCLUDE)


# -- the oldest base: Python 3.9, pytest 6.0 --------------------------------------
# The grading kit runs on Debian 11 (Python 3.9, pytest 6.0.2, pluggy 0.13), so on
# Gradescope's Ubuntu 22.04 (Python 3.10, pytest 6.2.5) too. platforms/check-old-base
# grades there for real; this finds the usual mistakes in seconds.
OLD_PYTHON = (3, 9)
# Every public name of pytest 6.0.2 (dir(pytest) on Debian 11): pytest.X for any
# other X is newer (pytest.Stash, pytest.Config, pytest.version_tuple...).
PYTEST_6_NAMES = set("""
    Class Collector ExitCode File FixtureLookupError Function Instance Item Module
    Package PytestAssertRewriteWarning PytestCacheWarning PytestCollectionWarning
    PytestConfigWarning PytestDeprecationWarning PytestExperimentalApiWarning
    PytestUnhandledCoroutineWarning PytestUnknownMarkWarning PytestWarning Session
    UsageError approx cmdline collect console_main deprecated_call exit fail fixture
    freeze_includes hookimpl hookspec importorskip main mark param raises
    register_assert_rewrite set_trace skip warns xfail yield_fixture""".split())
# Every hook of pytest 6.0.2 (_pytest.hookspec): a conftest's pytest_X for any
# other X stops pytest 6 ("unknown hook").
PYTEST_6_HOOKS = set("""
    addhooks addoption assertion_pass assertrepr_compare cmdline_main cmdline_parse
    cmdline_preparse collect_directory collect_file collection collection_finish
    collection_modifyitems collectreport collectstart configure deselected enter_pdb
    exception_interact fixture_post_finalizer fixture_setup generate_tests ignore_collect
    internalerror itemcollected keyboard_interrupt leave_pdb load_initial_conftests
    make_collect_report make_parametrize_id plugin_registered pycollect_makeitem
    pycollect_makemodule pyfunc_call report_collectionfinish report_from_serializable
    report_header report_teststatus report_to_serializable runtest_call runtest_logfinish
    runtest_logreport runtest_logstart runtest_makereport runtest_protocol runtest_setup
    runtest_teardown runtestloop sessionfinish sessionstart terminal_summary unconfigure
    warning_captured warning_recorded""".split())
NEWER_NAMES = {         # a name, attribute or import, anywhere: where it comes from
    "stash": "pytest 7 (config.stash, item.stash)",
    "pytester": "pytest 6.2 (the pytester fixture)",
    "pairwise": "Python 3.10 (itertools)", "bit_count": "Python 3.10 (int)",
    "aiter": "Python 3.10", "anext": "Python 3.10", "TypeAlias": "Python 3.10 (typing)",
    "ParamSpec": "Python 3.10 (typing)", "tomllib": "Python 3.11", "StrEnum": "Python 3.11",
    "TaskGroup": "Python 3.11", "ExceptionGroup": "Python 3.11", "add_note": "Python 3.11",
    "file_digest": "Python 3.11 (hashlib)", "batched": "Python 3.12 (itertools)",
}
NEWER_ARGUMENTS = {     # a hook's argument: pytest 7's pathlib ones (pytest 6: path, fspath)
    "collection_path": "pytest 7", "file_path": "pytest 7", "module_path": "pytest 7",
    "start_path": "pytest 7",
}
NEWER_KEYWORDS = {      # (the function called, a keyword argument): where it comes from
    ("zip", "strict"): "Python 3.10", ("dataclass", "slots"): "Python 3.10",
    ("dataclass", "kw_only"): "Python 3.10", ("pytest.fail", "reason"): "pytest 7",
    ("pytest.skip", "reason"): "pytest 7", ("pytest.exit", "reason"): "pytest 7",
    ("pytest.hookimpl", "wrapper"): "pluggy 1.1 (new-style hook wrappers)",
}
NODE_NAMES = {"item", "node", "collector", "session"}
NEWER_NODE_ATTRIBUTES = {"path": "pytest 7 (Node.path; pytest 6: fspath)"}


def newer_in_node(node):
    """What, in this one AST node, is newer than the oldest base."""
    if isinstance(node, ast.Attribute):
        on = ast.unparse(node.value)
        if on == "pytest" and node.attr not in PYTEST_6_NAMES and not node.attr.startswith("__"):
            return [f"pytest.{node.attr}: newer than pytest 6.0"]
        if on in NODE_NAMES or on.endswith(".node"):
            return [f"{on}.{node.attr}: {why}" for a, why in NEWER_NODE_ATTRIBUTES.items()
                    if a == node.attr]
    if isinstance(node, ast.Call):
        called = ast.unparse(node.func)
        return [f"{called}({k.arg}=): {NEWER_KEYWORDS[called, k.arg]}" for k in node.keywords
                if (called, k.arg) in NEWER_KEYWORDS]
    if isinstance(node, ast.arg) and node.arg in NEWER_ARGUMENTS:
        return [f"argument {node.arg}: {NEWER_ARGUMENTS[node.arg]}"]
    name = getattr(node, "attr", None) or getattr(node, "id", None) or getattr(node, "name", None)
    return [f"{name}: {NEWER_NAMES[name]}"] if name in NEWER_NAMES else []


def runtime_unions(tree):
    """Annotations X | Y, which Python 3.9 evaluates, and fails on, unless the
    module has `from __future__ import annotations`."""
    if any(isinstance(n, ast.ImportFrom) and n.module == "__future__" and
           any(a.name == "annotations" for a in n.names) for n in tree.body):
        return []
    annotations = [n.annotation for n in ast.walk(tree) if isinstance(n, (ast.arg, ast.AnnAssign))]
    annotations += [n.returns for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    return [(a.lineno, f"{ast.unparse(a)}: an X | Y annotation needs Python 3.10") for a in
            annotations if a is not None and any(isinstance(b, ast.BinOp) and
                                                 isinstance(b.op, ast.BitOr) for b in ast.walk(a))]


def unknown_hooks(tree):
    """A conftest's functions pytest_X where X is no hook of pytest 6.0."""
    return [(n.lineno, f"{n.name}: not a hook of pytest 6.0") for n in tree.body
            if isinstance(n, ast.FunctionDef) and n.name.startswith("pytest_")
            and n.name[len("pytest_"):] not in PYTEST_6_HOOKS]


def version_test(node):
    """Whether node is an `if` on a version: its branches may use what is newer."""
    return isinstance(node, ast.If) and "version" in ast.unparse(node.test).lower()


def too_new(source, name="<source>"):
    """[(line, what)]: each thing in source that Python 3.9 or pytest 6.0 lacks."""
    try:
        tree = ast.parse(source, name, feature_version=OLD_PYTHON)
    except SyntaxError as e:
        return [(e.lineno, f"not Python {'.'.join(map(str, OLD_PYTHON))}: {e.msg}")]
    found, todo = [], [tree]
    while todo:
        node = todo.pop()
        found += [(getattr(node, "lineno", 0), what) for what in newer_in_node(node)]
        todo += [] if version_test(node) else ast.iter_child_nodes(node)
    if os.path.basename(name) == "conftest.py":
        found += unknown_hooks(tree)
    return sorted(found + runtime_unions(tree))


def grading_python():
    """{path: source} of every Python file in the largest grading package (the
    last stage's), and the Python in the platform templates."""
    from package import grading_kit, stages, template
    kit = grading_kit(max(stages()))
    files = {f: data.decode() for f, data in kit.items() if f.endswith(".py") or
             re.match(rb"#!.*python", data)}
    for name in ("run_autograder",):
        heredocs = re.findall(r"<<'PY'\n(.*?)\nPY\n", template(name, 1), re.S)
        files.update({f"platforms/{name} (python {i})": py for i, py in enumerate(heredocs)})
    return files


def test_the_grading_kit_needs_no_newer_python_or_pytest_than_the_oldest_base():
    files = grading_python()
    assert {"harness/grade", "harness/conftest.py", "harness/kit/grading.py"} <= set(files)
    problems = [f"{f}:{line}: {what}" for f, src in sorted(files.items())
                for line, what in too_new(src, f)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("source, caught", [
    ("match x:\n    case 1:\n        pass\n", "Pattern matching"),
    ("def pytest_ignore_collect(collection_path, config):\n    pass\n", "collection_path"),
    ("def f(config):\n    config.stash[k] = 1\n", "stash"),
    ("def f(item):\n    return item.path\n", "item.path"),
    ("import pytest\nk = pytest.StashKey()\n", "pytest.StashKey"),
    ("@pytest.hookimpl(wrapper=True)\ndef pytest_runtest_call(item):\n    yield\n", "wrapper"),
    ("from itertools import pairwise\n", "pairwise"),
    ("list(zip(a, b, strict=True))\n", "strict"),
    ("def f(x: int | None):\n    pass\n", "X | Y"),
    ("def pytest_markeval_namespace(config):\n    return {}\n", "not a hook"),
])
def test_the_old_base_check_catches(source, caught):
    found = too_new(source, "conftest.py")
    assert any(caught in what for _, what in found), found


def test_the_old_base_check_lets_a_version_test_choose():
    guarded = ("if PYTEST_VERSION >= (7,):\n"
               "    def pytest_ignore_collect(collection_path, config):\n        pass\n"
               "else:\n    def pytest_ignore_collect(path, config):\n        pass\n")
    assert too_new(guarded) == []
    assert too_new("from __future__ import annotations\ndef f(x: int | None):\n    pass\n") == []
    assert too_new("os.path.join(a, b)\nr.path\npytest.mark.skip(reason='x')\n") == []
