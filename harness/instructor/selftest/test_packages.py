"""Nothing students get holds an answer their instructor has not released.

By the stub rule, stage N+1's starter is stage N's answer, so a handout or a
grading package of stage N must hold nothing of a later stage. For every
stage N, its handout, its Gradescope zip and its Autolab tar are searched
for the answer of every stage M >= N: each run of lines that stage M's
answer (mkstages --answers) has and its starter lacks. The search is shown
to find what it looks for: stage N+1's own starter holds stage N's answer."""
import difflib
import os
import tarfile
import zipfile

import pytest

from graders import ROOT, answer

pytestmark = pytest.mark.timeout(600)

import package  # noqa: E402  (harness/instructor/package.py: conftest.py puts it on the path)

STAGES = sorted(package.stages())
SUBSTANCE = 3           # lines of substance that make a run of an answer worth seeking


def substance(text):
    """text's lines, stripped, without blank lines, braces or comments alone."""
    kept = []
    for line in text.splitlines():
        line = line.strip()
        if len(line) > 3 and not line.startswith(("/*", "*", "//")):
            kept.append(line)
    return kept


def answer_runs(stage, tmp):
    """{(file, first line): text} of each run of at least SUBSTANCE lines that
    stage N's answer has and its starter does not."""
    solved = answer(stage, os.path.join(tmp, f"answer{stage}"))
    starter = os.path.join(ROOT, "stages", os.path.basename(package.submission.stage_dir(stage)))
    runs = {}
    for name in os.listdir(solved):
        with open(os.path.join(solved, name)) as a, open(os.path.join(starter, name)) as s:
            mine, given = substance(a.read()), substance(s.read())
        diff = difflib.SequenceMatcher(None, given, mine, autojunk=False)
        for op, _, _, j1, j2 in diff.get_opcodes():
            if op in ("insert", "replace") and j2 - j1 >= SUBSTANCE:
                runs[(name, mine[j1])] = "\n".join(mine[j1:j2])
    assert runs, f"stage {stage}'s answer differs from its starter in no run of lines"
    return runs


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    """{stage: its answer's runs}."""
    tmp = tmp_path_factory.mktemp("answers")
    return {n: answer_runs(n, str(tmp)) for n in STAGES}


def texts_of(kind, stage, tmp):
    """{name: text} of every file in stage N's package of kind."""
    out = os.path.join(tmp, f"{kind}{stage}")
    if kind == "handout":
        package.handout(stage, out)
        with tarfile.open(out) as t:
            return {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}
    if kind == "gradescope":
        package.gradescope(stage, out)
        with zipfile.ZipFile(out) as z:
            return {n: z.read(n) for n in z.namelist()}
    package.autolab(stage, out)
    with tarfile.open(os.path.join(out, "autograde.tar")) as t:
        return {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}


def leaks(files, runs):
    """The answer runs found in files ({name: bytes}): [(run, file name)]."""
    found = []
    for name, data in files.items():
        text = "\n".join(substance(data.decode(errors="replace")))
        found += [(key, name) for key, run in runs.items() if run in text]
    return found


@pytest.mark.parametrize("kind", ["handout", "gradescope", "autolab"])
@pytest.mark.parametrize("stage", STAGES)
def test_no_answer_of_this_stage_or_a_later_one(answers, tmp_path, stage, kind):
    files = texts_of(kind, stage, str(tmp_path))
    later = {(m, *key): run for m in STAGES if m >= stage for key, run in answers[m].items()}
    found = leaks(files, later)
    assert not found, f"stage {stage}'s {kind} holds answers: " + "; ".join(
        f"stage {m}'s {f} (from {line!r}) in {name}" for (m, f, line), name in found[:5])


@pytest.mark.parametrize("stage", STAGES[:-1])
def test_the_search_finds_an_answer_where_it_is(answers, stage):
    """Stage N+1's starter holds stage N's answer (the stub rule): the search
    finds it there, so a package that held it would fail above."""
    nxt = os.path.join(ROOT, "stages", os.path.basename(package.submission.stage_dir(stage + 1)))
    files = {f: open(os.path.join(nxt, f), "rb").read() for f in os.listdir(nxt)
             if f.endswith(".c")}
    assert len(leaks(files, answers[stage])) >= len(answers[stage]) // 2
