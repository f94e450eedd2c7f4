"""Self-tests of the grader (harness/grade): the reference earns full marks, a
starter does not, only a submission's .c files count, the rubric must match
the tests, and every output format says the same scores."""
import csv
import difflib
import json
import os
import shutil
import tarfile
import xml.etree.ElementTree as ET
import zipfile

import pytest

from graders import GRADE, answer, grade, grade_files, own_points

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def reference1(tmp_path_factory):
    """The reference's answer to stage 1, graded with every output."""
    return grade_files(tmp_path_factory.mktemp("ref1"), "--stage", 1, "--reference")


@pytest.fixture(scope="module")
def starter2(tmp_path_factory):
    """Stage 2's starter, graded with every output."""
    stage = os.path.join(os.path.dirname(GRADE), "..", "stages", "2-http")
    return grade_files(tmp_path_factory.mktemp("starter2"), "--stage", 2, stage)


@pytest.fixture(scope="module")
def broken1(tmp_path_factory):
    """A stage-1 submission that does not compile, graded with every output."""
    tmp = tmp_path_factory.mktemp("broken1")
    sub = answer(1, tmp / "sub")
    with open(os.path.join(sub, "echoserver.c"), "a") as f:
        f.write("\nint this_does_not_compile(void) { return }\n")
    return grade_files(tmp, "--stage", 1, sub)


def test_reference_gets_full_marks_on_stage_1(reference1):
    _, results, _, full = reference1
    assert results["score"] == 100, [t for t in results["tests"] if t["status"] != "passed"]
    assert full["built"] and full["max_score"] == 100


def test_reference_gets_full_marks_on_stage_4():
    r = grade("--stage", 4, "--reference", "--quiet")
    assert json.loads(r.stdout.splitlines()[-1])["scores"] == {"stage4": 100}, r.stdout


def test_starter_gets_less_but_passes_earlier_stages(starter2):
    _, results, _, full = starter2
    assert results["score"] < 100
    earlier = [row for row in full["tests"] if row["stage"] < 2]
    assert earlier and all(row["outcome"] == "passed" for row in earlier)


def check_gradescope(results):
    """results.json has Gradescope's fields, with their types, adding up."""
    assert isinstance(results["score"], (int, float))
    assert isinstance(results["execution_time"], (int, float))
    assert isinstance(results["output"], str)
    assert results["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    assert results["stdout_visibility"] in ("visible", "hidden")
    for t in results["tests"]:
        assert set(t) >= {"name", "score", "max_score", "status", "output", "visibility",
                          "number"}
        assert t["status"] in ("passed", "failed") and 0 <= t["score"] <= t["max_score"]
        assert isinstance(t["name"], str) and isinstance(t["number"], str)
        assert t["score"] == (t["max_score"] if t["status"] == "passed" else 0)
    assert abs(sum(t["score"] for t in results["tests"]) - results["score"]) < 1e-9


def junit_scores(path):
    """(total score, failures) from the JUnit file's properties and elements,
    once it is shown valid under Jenkins' strict schema."""
    root = ET.parse(path).getroot()
    check_jenkins_schema(root)
    cases = root.findall("./testsuite/testcase")
    score = sum(float(p.get("value")) for p in root.findall("./testsuite/properties/property")
                if p.get("name").startswith("score "))
    failures = sum(c.find("failure") is not None for c in cases)
    assert int(root.get("tests")) == len(cases) and int(root.get("failures")) == failures
    return score, failures


# Jenkins' strict JUnit schema (junit-10.xsd): each element's children and
# attributes, and the attributes it requires.
JENKINS = {
    "testsuites": ({"testsuite"}, {"name", "time", "tests", "failures", "disabled", "errors"},
                   set()),
    "testsuite": ({"properties", "testcase", "system-out", "system-err"},
                  {"name", "tests", "failures", "errors", "time", "disabled", "skipped",
                   "timestamp", "hostname", "id", "package"}, {"name", "tests"}),
    "properties": ({"property"}, set(), set()),
    "property": (set(), {"name", "value"}, {"name", "value"}),
    "testcase": ({"skipped", "error", "failure", "system-out", "system-err"},
                 {"name", "assertions", "time", "classname", "status"}, {"name"}),
    "failure": (set(), {"type", "message"}, set()),
    "system-out": (set(), set(), set()),
}


def check_jenkins_schema(element):
    """Fail unless element and all below it follow JENKINS."""
    children, allowed, required = JENKINS[element.tag]
    assert set(element.attrib) <= allowed and required <= set(element.attrib), element.attrib
    for child in element:
        assert child.tag in children, f"<{child.tag}> inside <{element.tag}>"
        check_jenkins_schema(child)
    if element.tag == "testsuite":
        assert [c.tag for c in element][:1] in ([], ["properties"]), "properties come first"


def test_junit_holds_any_bytes_a_student_prints():
    """A failure whose reason and output carry control bytes, a NUL, an
    escape sequence and a lone surrogate still gives well-formed JUnit that
    Jenkins' schema accepts, the bytes shown, not dropped."""
    from kit import reports
    row = {"id": "py:test_stage1_echo.py::test_echo_one_line", "stage": 1, "points": 5,
           "max_points": 5, "visibility": "visible", "name": "echoserver: echoes one line",
           "outcome": "failed", "reason": "got \x00\x01\x1b[31m\x07 back",
           "output": "sent: hi\ngot: \x0c\udc80 and more"}
    result = {"stage": 1, "execution_time": 1.0, "score": 0, "tests": [row]}
    root = ET.fromstring(reports.junit(result).encode())
    check_jenkins_schema(root)
    failure = root.find("./testsuite/testcase/failure")
    assert "\\x00\\x01\\x1b[31m\\x07" in failure.get("message")
    assert "\\x0c\\udc80" in failure.text


@pytest.mark.parametrize("run", ["reference1", "starter2", "broken1"])
def test_formats_agree(run, request):
    process, results, junit, full = request.getfixturevalue(run)
    check_gradescope(results)
    autolab = json.loads(process.stdout.rstrip("\n").splitlines()[-1])
    assert set(autolab) == {"scores", "scoreboard"}
    stage = f"stage{full['stage']}"
    score, failures = junit_scores(junit)
    assert autolab["scores"] == {stage: results["score"]} == {stage: score} == \
        {stage: full["score"]}
    assert autolab["scoreboard"] == [results["score"]]
    assert failures == sum(t["status"] == "failed" for t in results["tests"])


def test_a_build_failure_still_gives_results(broken1):
    # echoserver.c does not compile: the black-box tests cannot run, but the
    # unit tests of rio and sock, which do not link it, still do.
    _, results, _, full = broken1
    assert not full["built"] and results["score"] == own_points(1, "c:")
    assert "error" in results["output"] and "this_does_not_compile" in results["output"]
    status = {r["id"]: (r["outcome"], r["reason"]) for r in full["tests"]}
    assert all(o == "passed" for t, (o, _) in status.items() if t.startswith("c:")), status
    black_box = [why for t, (o, why) in status.items() if t.startswith("py:")]
    assert black_box and all(why.startswith("not built") for why in black_box), status


def pack(src, dest, kind):
    """src's files under a folder stage1/ in a directory, tar.gz or zip."""
    if kind == "dir":
        return shutil.copytree(src, os.path.join(dest, "stage1"))
    if kind == "tar.gz":
        path = os.path.join(dest, "sub.tar.gz")
        with tarfile.open(path, "w:gz") as t:
            t.add(src, "stage1")
        return path
    path = os.path.join(dest, "sub.zip")
    with zipfile.ZipFile(path, "w") as z:
        for name in os.listdir(src):
            z.write(os.path.join(src, name), f"stage1/{name}")
    return path


@pytest.mark.parametrize("kind", ["dir", "tar.gz", "zip"])
def test_only_the_stages_c_files_are_taken(tmp_path, kind):
    """A submission that also breaks a header, the Makefile and a test still
    gets full marks: those come from the kit."""
    sub = answer(1, tmp_path / "answer")
    for name, text in (("rio.h", "#error a student's header\n"),
                       ("Makefile", "all:\n\tfalse\n"), ("test_rio.c", "#error\n")):
        with open(os.path.join(sub, name), "w") as f:
            f.write(text)
    r = grade("--stage", 1, "--quiet", pack(sub, tmp_path, kind))
    assert json.loads(r.stdout.splitlines()[-1])["scores"] == {"stage1": 100}, r.stdout


def test_a_missing_file_is_the_starters(tmp_path):
    sub = answer(1, tmp_path / "sub")
    os.remove(os.path.join(sub, "echoserver.c"))
    r = grade("--stage", 1, sub)
    assert "echoserver.c is not in the submission" in r.stdout
    assert json.loads(r.stdout.splitlines()[-1])["scores"]["stage1"] < 100


def test_defining_the_runners_functions_is_refused(tmp_path):
    sub = answer(1, tmp_path / "sub")
    with open(os.path.join(sub, "rio.c"), "a") as f:
        f.write("\nint CU_cheat = 1;\n")
    r = grade("--stage", 1, sub)
    assert "CU_cheat" in r.stdout
    assert json.loads(r.stdout.splitlines()[-1])["scores"]["stage1"] == 0


def broken_rubric(tmp_path):
    """A copy of the rubric with one entry dropped and one invented, the
    stage's total kept at 100."""
    from kit import rubric
    lines = open(rubric.PATH).read().splitlines(keepends=True)
    dropped = next(i for i, l in enumerate(lines) if l.startswith("c:rio/errors_returned"))
    points = lines[dropped].split()[2]
    lines[dropped] = f"c:rio/no_such_test 1 {points} visible invented\n"
    path = tmp_path / "rubric.txt"
    path.write_text("".join(lines))
    return str(path)


def test_the_grader_refuses_a_rubric_that_does_not_match(tmp_path):
    env = {"PROXYLAB_RUBRIC": broken_rubric(tmp_path)}
    for args in (["--check-rubric"], ["--stage", 1, "--reference"]):
        r = grade(*args, env=env, check_rubric=True)
        assert r.returncode == 2
        assert "c:rio/errors_returned: a test with no entry" in r.stderr
        assert "c:rio/no_such_test: a rubric entry with no test" in r.stderr


def test_the_kits_rubric_matches_its_tests():
    r = grade("--check-rubric")
    assert r.returncode == 0, r.stderr


def test_batch_of_three(tmp_path):
    """Batch grading: one CSV row per student, with the reason for a 0 that
    no test gave (an unreadable archive); each student's results.json,
    junit.xml and result.json in --out-dir; a line of progress per student
    without a terminal; a summary, a histogram."""
    good = answer(1, tmp_path / "alice")
    bad = os.path.join(os.path.dirname(GRADE), "..", "stages", "1-echo")
    garbage = tmp_path / "carol.tar"
    garbage.write_bytes(b"this is not a tar archive\n")
    out, each = tmp_path / "grades.csv", tmp_path / "each"
    r = grade("--stage", 1, "-j", 2, "--csv", out, "--histogram", tmp_path / "h.png",
              "--out-dir", each, good, bad, garbage)
    rows = list(csv.DictReader(open(out)))
    assert [(row["student"], float(row["total"])) for row in rows][0] == ("alice", 100)
    assert rows[1]["student"] == "1-echo" and float(rows[1]["total"]) < 100
    assert rows[0]["reason"] == rows[1]["reason"] == ""
    assert rows[2]["student"] == "carol" and float(rows[2]["total"]) == 0
    assert "not a directory, tar or zip archive" in rows[2]["reason"]
    for student, total in (("alice", 100), ("1-echo", float(rows[1]["total"])), ("carol", 0)):
        results = json.loads((each / student / "results.json").read_text())
        assert results["score"] == total
        assert ET.parse(each / student / "junit.xml").getroot().tag == "testsuites"
    assert r.stderr.count("graded ") == 3 and "graded 3/3" in r.stderr
    assert "3 graded: mean" in r.stdout and "earned each test" in r.stdout
    assert open(tmp_path / "h.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    tests = [k for k in rows[0] if k.startswith(("c:", "py:"))]
    assert sum(float(rows[0][k]) for k in tests) == 100 == own_points(1, "c:") + own_points(1, "py:")


def test_the_mutant_hook_grades_the_reference_with_a_patch(tmp_path):
    """--reference --patch P: the reference's answer with a bug put in by a
    unified diff loses exactly the tests that see the bug (per-test outcomes
    in --json). The bug: ports 0 and 65536 are taken as valid."""
    grade("--stage", 1, "--write-answer", tmp_path / "a")
    old = (tmp_path / "a" / "echoserver.c").read_text()
    new = old.replace("port >= 1 && port <= 65535", "port >= 0 && port <= 65536")
    assert new != old
    diff = difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                "a/echoserver.c", "b/echoserver.c")
    (tmp_path / "ports.patch").write_text("".join(diff))
    out = tmp_path / "out.json"
    grade("--stage", 1, "--reference", "--patch", tmp_path / "ports.patch", "--json", out)
    failed = {t["id"] for t in json.load(open(out))["tests"] if t["outcome"] != "passed"}
    assert failed == {"py:test_stage1_echo.py::test_bad_port_argument"}


def test_files_are_found_by_name_inside_the_stages_folder(tmp_path):
    """A tar with the whole kit in it: the stage's own copy wins over a
    decoy elsewhere and over the other stages' files of the same name."""
    from kit import submission
    sub = answer(1, tmp_path / "answer")
    path = tmp_path / "kit.tar"
    with tarfile.open(path, "w") as t:
        t.add(sub, "proxylab/stages/1-echo")
        t.add(os.path.join(sub, "rio.c"), "rio.c")
        for name in ("echoserver.c", "rio.c", "sock.c"):
            t.add(os.devnull, f"proxylab/stages/2-http/{name}")
            t.add(os.devnull, f"decoy/{name}")
    dest = tmp_path / "dest"
    dest.mkdir()
    assert submission.take(str(path), 1, str(dest)) == []
    for name in submission.editable(1):
        assert (dest / name).read_bytes() == open(os.path.join(sub, name), "rb").read()


@pytest.mark.skipif(os.geteuid() != 0, reason="only a grader running as root can hide them")
def test_a_submission_cannot_read_the_hidden_tests(tmp_path):
    """The compiler runs in the sandbox, which does not show harness/hidden/
    (and runs as a uid that could not read it): an #include of a hidden test
    shows nothing of it."""
    sub = answer(1, tmp_path / "sub")
    hidden = os.path.join(os.path.dirname(GRADE), "hidden", "test_stage1_hidden.py")
    with open(os.path.join(sub, "echoserver.c"), "a") as f:
        f.write(f'\n#include "{hidden}"\n')
    r = grade("--stage", 1, sub)
    assert ("No such file" in r.stdout or "Permission denied" in r.stdout) and \
        "def test_" not in r.stdout
    # echoserver.c does not build: the unit tests of rio and sock, which do
    # not link it, earn their points, and no black-box test does.
    assert json.loads(r.stdout.splitlines()[-1])["scores"]["stage1"] == own_points(1, "c:")


def test_a_mistyped_path_is_an_error(tmp_path):
    """A submission path that does not exist grades nothing: exit 2 and its
    name, not a 0 for it (in a batch too)."""
    real = answer(1, tmp_path / "alice")
    r = grade("--stage", 1, real, tmp_path / "bobb", "--csv", tmp_path / "out.csv")
    assert r.returncode == 2 and "no such submission" in r.stderr and "bobb" in r.stderr, r
    assert not (tmp_path / "out.csv").exists()


def planted_overflow(tmp_path):
    """A patch of stage 3's answer that reads one byte past a heap buffer
    on every request it forwards: the plain build goes on, unharmed."""
    grade("--stage", 3, "--write-answer", tmp_path / "a")
    old = (tmp_path / "a" / "forward.c").read_text()
    end = "    return text_fits(&o) ? (int)o.len : -1;\n"
    bug = ("    char *copy = malloc(o.len);\n"
           "    if (copy != NULL && text_fits(&o)) {\n"
           "        memcpy(copy, out, o.len);\n"
           "        volatile char past = copy[o.len];  /* one byte past the copy */\n"
           "        (void)past;\n"
           "    }\n"
           "    free(copy);\n")
    assert old.count(end) == 1
    new = old.replace(end, bug + end)
    diff = difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                "a/forward.c", "b/forward.c")
    (tmp_path / "overflow.patch").write_text("".join(diff))
    return tmp_path / "overflow.patch"


def test_black_box_tests_run_under_the_sanitizers(tmp_path):
    """A heap overflow (a read of one byte past), which the plain build
    survives, fails the tests, unit and black-box, that build a request to
    forward, with AddressSanitizer's report shown; graded --plain, it
    scores 100."""
    patch = planted_overflow(tmp_path)
    out = tmp_path / "out.json"
    grade("--stage", 3, "--reference", "--patch", patch, "--json", out)
    tests = {t["id"]: t for t in json.load(open(out))["tests"] if t["stage"] == 3}
    sent = tests["py:test_stage3_forward.py::test_long_fields_and_url_pass_through"]
    assert sent["outcome"] == "failed" and "heap-buffer-overflow" in sent["output"], sent
    unit = tests["c:forward/build_table"]                           # unit tests: sanitized too
    assert unit["outcome"] == "failed" and "heap-buffer-overflow" in unit["reason"], unit
    plain = grade("--stage", 3, "--reference", "--plain", "--patch", patch)
    assert json.loads(plain.stdout.splitlines()[-1])["scores"]["stage3"] == 100, plain.stdout


def test_later_unit_tests_run_under_tsan_too(tmp_path):
    """From stage 4 on, the unit tests of stages 4 and later run again,
    built with ThreadSanitizer: stage 4's answer counting its clients in a
    plain static long (a race no other build sees) fails them there, and
    says so; graded --plain (no TSan pass), it scores 100."""
    grade("--stage", 4, "--write-answer", tmp_path / "a")
    path = tmp_path / "a" / "server.c"
    text = path.read_text()
    racy = text.replace("/* What a client thread needs", "static long active;\n\n"
                        "/* What a client thread needs", 1) \
        .replace("atomic_fetch_sub(&c->s->active, 1);", "active--;") \
        .replace("atomic_fetch_add(&s->active, 1) >= s->max_clients", "active++ >= s->max_clients") \
        .replace("        atomic_fetch_sub(&s->active, 1);\n", "        active--;\n")
    assert "atomic_fetch" not in racy and "active++" in racy, "server.c's answer changed"
    path.write_text(racy)
    out = tmp_path / "out.json"
    grade("--stage", 4, tmp_path / "a", "--json", out)
    tests = {t["id"]: t for t in json.load(open(out))["tests"]}
    raced = tests["c:server/connections_closed_and_slots_freed"]
    assert raced["outcome"] == "failed", raced
    assert raced["reason"].startswith("under ThreadSanitizer:") and "data race" in raced["reason"]
    assert all(t["outcome"] == "passed" for t in tests.values() if t["stage"] < 4)
    plain = grade("--stage", 4, "--plain", tmp_path / "a")
    assert json.loads(plain.stdout.splitlines()[-1])["scores"]["stage4"] == 100, plain.stdout


def test_an_earlier_stage_that_breaks_costs_its_points(tmp_path):
    # Stage 2's answer with stage 1's sock_connect broken: an unknown host
    # gives -1, not SOCK_ENAME. Stage 2's own tests do not see it; stage 1's do.
    sub = answer(2, tmp_path / "sub")
    path = os.path.join(sub, "sock.c")
    text = open(path).read()
    start = text.index("int sock_connect(")
    broken = text[:start] + text[start:].replace("return SOCK_ENAME;", "return -1;", 1)
    with open(path, "w") as f:
        f.write(broken)
    _, results, _, full = grade_files(tmp_path, "--stage", 2, "--plain", sub)
    failed = [r for r in full["tests"] if r["stage"] < 2 and r["outcome"] != "passed"]
    assert [r["id"] for r in failed] == ["c:sock/bad_names"], failed
    own = sum(r["points"] for r in full["tests"] if r["stage"] == 2)
    cost = failed[0]["max_points"]
    assert cost > 0 and full["score"] == results["score"] == max(0, own - cost)
    assert f"-{cost:g} points" in results["output"]
    assert any(t["name"].startswith(f"(stage 1, must still pass: if it fails, -{cost:g} here)")
               for t in results["tests"])
