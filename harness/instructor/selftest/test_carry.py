"""`make carry` (harness/carry, harness/kit/exercises.py): a student's own
code for earlier stages' exercises moves into a later stage's files exactly,
or carry refuses and changes nothing. Tried on each stage's reference answer,
on a partial stage-3 submission, and on broken ones."""
import filecmp
import os
import re
import shutil
import subprocess

import pytest

from graders import HARNESS, ROOT, answer

from kit import exercises

pytestmark = pytest.mark.timeout(300)
CARRY = os.path.join(HARNESS, "carry")
STAGE_DIRS = sorted(d for d in os.listdir(os.path.join(ROOT, "stages")) if re.match(r"\d-", d))


def handout(n, dest):
    """A copy of stage n's handout directory (its given files) at
    dest/../kit/stages/<dest's name>, in a kit of links to this one's
    harness/ and tests/ (a stage's Makefile includes ../../harness/stage.mk);
    returns its path."""
    top = os.path.join(os.path.dirname(str(dest)), "kit")
    if not os.path.isdir(top):
        os.makedirs(os.path.join(top, "stages"))
        for d in ("harness", "tests"):
            os.symlink(os.path.join(ROOT, d), os.path.join(top, d))
    where = os.path.join(top, "stages", os.path.basename(str(dest)))
    shutil.copytree(os.path.join(ROOT, "stages", STAGE_DIRS[n - 1]), where,
                    ignore=shutil.ignore_patterns("build", "log.txt", ".before-carry"))
    return where


def finished(n, dest):
    """Stage n's directory as a student who finished it has it: the
    handout with the reference's answers in its .c files."""
    where = handout(n, dest)
    answer(n, where)        # copies over the handout's .c files
    return where


def carry(src, dst, *flags):
    """Run harness/carry; returns the CompletedProcess (text)."""
    return subprocess.run([CARRY, *flags, str(src), str(dst)], capture_output=True, text=True)


def snapshot(d):
    """{file: text} of d's sources."""
    return {f: open(os.path.join(d, f)).read() for f in os.listdir(d) if f.endswith((".c", ".h"))}


@pytest.mark.parametrize("k", range(1, 8))
def test_each_answer_carries_into_the_next_stage_exactly(tmp_path, k):
    src = finished(k, tmp_path / "from")
    dst = handout(k + 1, tmp_path / "to")
    r = carry(src, dst, "--no-build")
    assert r.returncode == 0, r.stderr
    assert "carried your stage" in r.stdout
    # The reference's answers are what the next handout holds: byte for byte the same.
    same, differ, _ = filecmp.cmpfiles(os.path.join(ROOT, "stages", STAGE_DIRS[k]), dst,
                                       list(snapshot(dst)), shallow=False)
    assert not differ, f"carry changed what it should have left: {differ}\n{r.stdout}"
    assert os.path.isdir(os.path.join(dst, ".before-carry"))


def test_a_later_change_keeps_the_given_version(tmp_path):
    src = finished(4, tmp_path / "from")
    with open(os.path.join(src, "forward.c")) as f:
        text = f.read()
    with open(os.path.join(src, "forward.c"), "w") as f:
        f.write(text.replace("return text_fits(&o)", "/* mine */ return text_fits(&o)"))
    dst = handout(5, tmp_path / "to")
    r = carry(src, dst, "--no-build")
    assert r.returncode == 0, r.stderr
    assert "forward.c: kept this stage's code for stage 3" in r.stdout
    assert "helpers 3 (stage 5 changed it)" in r.stdout
    assert "/* mine */" not in open(os.path.join(dst, "forward.c")).read()


def own_stage3(dest):
    """A partial stage-3 submission: forward_request done its own way (the
    reference's, calling a helper of its own), forward_build_request still
    the stub, and an #include added outside the markers."""
    d = handout(3, dest)
    path = os.path.join(d, "forward.c")
    lines = open(path).read().split("\n")
    ref = open(os.path.join(answer(3, os.path.join(str(dest), "..", "ans3")), "forward.c")).read()
    own = {key: exercises.body(ref, key)
           for key in ((3, "forward_request"), (3, "helpers 2"), (3, "helpers 3"))}
    own[(3, "forward_request")][-1:-1] = ["    (void)own_helper();  /* mine */"]
    own[(3, "helpers 3")] += ["static int own_helper(void)", "{", "    return 0;", "}"]
    for key, body in own.items():
        begin, end, _ = exercises.regions("\n".join(lines))[key]
        lines[begin + 1:end] = body
    lines.insert(lines.index("#include <unistd.h>"), "#include <ctype.h>")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return d, own


def test_a_partial_submission_carries_and_builds(tmp_path):
    src, own = own_stage3(tmp_path / "from")
    dst = handout(4, tmp_path / "to")
    before = snapshot(dst)
    r = carry(src, dst)            # and builds stage 4 with it
    assert r.returncode == 0, r.stdout + r.stderr
    now = snapshot(dst)
    for key, body in own.items():
        assert exercises.body(now["forward.c"], key) == body
    assert "TODO(stage 3)" in "\n".join(exercises.body(now["forward.c"], (3, "forward_build_request")))
    assert "your forward_build_request still has its TODO(stage 3)" in r.stdout
    assert "not carried: #include <ctype.h>" in r.stdout
    # Every line outside the markers is stage 4's; the other files are stage 4's answers.
    assert outside(now["forward.c"]) == outside(before["forward.c"])
    assert {f: t for f, t in now.items() if f != "forward.c"} == \
        {f: t for f, t in before.items() if f != "forward.c"}
    assert open(os.path.join(dst, ".before-carry", "forward.c")).read() == before["forward.c"]
    again = carry(src, dst, "--no-build")
    assert again.returncode == 1 and "carried already" in again.stderr


def outside(text):
    """text's lines outside its exercises' markers."""
    spans = exercises.regions(text).values()
    return [line for i, line in enumerate(text.split("\n"))
            if not any(b < i < e for b, e, _ in spans)]


def test_a_result_that_does_not_build_is_put_back(tmp_path):
    src = finished(3, tmp_path / "from")
    path = os.path.join(src, "forward.c")
    text = open(path).read()
    with open(path, "w") as f:
        f.write(text.replace("return text_fits(&o)", "return not_declared_anywhere(&o)"))
    dst = handout(4, tmp_path / "to")
    before = snapshot(dst)
    r = carry(src, dst)
    assert r.returncode == 1
    assert "does not build" in r.stderr and "not_declared_anywhere" in r.stderr
    assert snapshot(dst) == before and not os.path.exists(os.path.join(dst, ".before-carry"))


REFUSALS = [
    # (what the student did to stage 3's forward.c, what carry says)
    (lambda t: t.replace("/* ==== end of stage 3 exercise: forward_request ==== */\n", ""),
     "forward_request has no end marker"),
    (lambda t: t.replace("    /* ==== stage 3 exercise: forward_build_request ==== */\n", ""),
     "forward_build_request ends, but it did not begin there"),
    (lambda t: t.replace("/* ==== stage 3 exercise: forward_request ==== */",
                         "/* ==== stage 3 exercise: forward_build_request ==== */"),
     "forward_build_request is marked twice"),
]


@pytest.mark.parametrize("damage,says", REFUSALS, ids=["no end", "no begin", "twice"])
def test_a_broken_marker_is_refused(tmp_path, damage, says):
    src = finished(3, tmp_path / "from")
    path = os.path.join(src, "forward.c")
    text = open(path).read()
    with open(path, "w") as f:
        f.write(damage(text))
    dst = handout(4, tmp_path / "to")
    before = snapshot(dst)
    r = carry(src, dst, "--no-build")
    assert r.returncode == 1 and says in r.stderr, r.stderr
    assert "forward.c, line" in r.stderr
    assert snapshot(dst) == before and not os.path.exists(os.path.join(dst, ".before-carry"))


def test_carry_goes_forward_only(tmp_path):
    r = carry(handout(4, tmp_path / "from"), handout(3, tmp_path / "to"), "--no-build")
    assert r.returncode == 1 and "carry from an earlier stage" in r.stderr
    r = subprocess.run(["make", "-s", "-C", str(tmp_path / "kit" / "stages" / "to"), "carry"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "make carry FROM=DIR" in r.stdout


def test_marking_refuses_an_exercise_inside_another():
    with pytest.raises(ValueError, match="inside another"):
        exercises.mark("void f(void)\n{\n#if STAGE > 3\n#if STAGE > 4\n#endif\n#endif\n}\n")
