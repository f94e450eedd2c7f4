"""Self-tests of the mutants (harness/instructor/mutants/): each header is whole and
names tests the rubric has, and each patch applies to solution/ as it is now.
Whether each mutant is caught is `make mutants`'s job (a minute)."""
import glob
import os
import subprocess

import pytest

import mutants
from kit import rubric

PATCHES = sorted(glob.glob(os.path.join(mutants.MUTANTS, "*.patch")))


def test_at_least_twelve_mutants():
    assert len(PATCHES) >= 12, f"only {len(PATCHES)} mutants in {mutants.MUTANTS}"


@pytest.mark.parametrize("path", PATCHES, ids=os.path.basename)
def test_header_and_patch(path):
    m = mutants.load(path, rubric.load())          # exits (SystemExit) if the header is broken
    assert m["bug"] and m["catches"] and m.get("stage", "").isdigit(), m
    with open(path) as f:
        r = subprocess.run(["patch", "-p1", "--dry-run", "--batch", "--forward", "--fuzz=0",
                            "-d", mutants.ROOT], stdin=f, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    assert r.returncode == 0, f"{os.path.basename(path)} no longer applies to solution/:\n{r.stdout}"


def test_teeth_repeats_within_its_budget(monkeypatch):
    """teeth grades each caught mutant 4 more times, fastest first, and
    stops starting repeats once its budget is spent; the summary names the
    mutants left with fewer runs, and a repeat that escapes fails it."""
    import concurrent.futures
    import teeth

    clock = [0.0]
    monkeypatch.setattr(teeth.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(teeth, "REPEAT_SECONDS", 10)

    def fake_grade(m, keep, runs, until):
        clock[0] += m["seconds"]            # each repeat takes the time its first run took
        ok = m["name"] != "03-flaky"
        return {**m, "ok": ok, "runs": runs if ok else 2,
                "verdict": "caught" if ok else "SURVIVES c:x (in run 2 of 4)"}

    monkeypatch.setattr(teeth.mutants, "grade", fake_grade)
    done = [{"name": n, "ok": True, "seconds": s, "verdict": "caught", "runs": 1}
            for n, s in (("01-slow", 20.0), ("02-fast", 1.0), ("03-flaky", 2.0), ("04-mid", 8.0))]
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        out = {m["name"]: m for m in teeth.repeat(pool, done)}
    assert out["02-fast"]["runs"] == 5 and out["02-fast"]["ok"]
    assert not out["03-flaky"]["ok"] and "a repeat" in out["03-flaky"]["verdict"]
    assert out["04-mid"]["runs"] == 5                       # began at 3 s, within 10 s
    assert out["01-slow"]["runs"] == 1                      # its turn came at 11 s: too late
    line = teeth.repeat_summary(list(out.values()))
    assert "2 of 4 mutants caught in 5 of 5 runs" in line and "(01)" in line, line
