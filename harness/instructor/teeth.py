#!/usr/bin/env python3
"""The teeth check: the reference passes every test; each stage's starter
fails its own stage's tests while passing every earlier stage's; each
stage, with its TODOs filled in from the reference, earns full points; and
every mutant (harness/instructor/mutants/, mutants.py) is caught, 5 runs of 5.

usage: teeth.py                  (run from anywhere; `make test` runs it)

The repeats are bounded in time: once every mutant has been graded once,
each caught one is graded 4 more times, the fastest first, until
TEETH_REPEAT_SECONDS (default 30) have passed; those left are graded once
only this time, and the report names them (`make mutants MUTANT_RUNS=5`
repeats every one). A mutant that escapes in any run fails the check.

Prints the reference's failures if it has any, and a table of stage, starter
result, solved result, reference result and mutation score (mutants caught,
of the stage's). Exits 1 if any breaks the rule.
"""
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time

import mutants
from kit import rubric

HERE = os.path.dirname(os.path.abspath(__file__))  # harness/instructor/
HARNESS = os.path.dirname(HERE)
ROOT = os.path.dirname(HARNESS)
CHECK = ["/usr/bin/python3", os.path.join(HARNESS, "check.py")]
REPEATS = 5
REPEAT_SECONDS = float(os.environ.get("TEETH_REPEAT_SECONDS", "30"))


def stages():
    """(number, directory, program) for each line of solution/STAGES."""
    with open(os.path.join(ROOT, "solution", "STAGES")) as f:
        for line in f:
            fields = line.split()
            if fields and not fields[0].startswith("#"):
                yield int(fields[0]), fields[1], fields[2]


def check(tmp, name, *args):
    """Run check.py quietly; returns (its JSON results, its output)."""
    out = os.path.join(tmp, name)
    r = subprocess.run(CHECK + ["--out", out, "--json", out + ".json", *args],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with open(out + ".json") as f:
            return json.load(f), r.stdout
    except FileNotFoundError:
        return None, r.stdout


def judge_starter(n, results):
    """(verdict words, ok) for stage n's starter."""
    if results is None:
        return "the check itself failed", False
    own = [t for t in results["tests"] if t["stage"] == n]
    earlier = [t for t in results["tests"] if t["stage"] < n]
    got = sum(t["points"] for t in own)
    broken = [t["id"] for t in earlier if t["outcome"] != "passed"]
    words = f"fails its own, {got:g}/100" if got < 100 else "PASSES its own tests: no teeth"
    if earlier:
        words += f"; earlier: {len(earlier) - len(broken)}/{len(earlier)} pass"
    if broken:
        words += " (" + ", ".join(broken[:3]) + ")"
    if not results["built"]:
        words = "does not build"
    return words, results["built"] and got < 100 and not broken


def solved_tree(tmp):
    """Write every stage with its TODOs solved into tmp/kit/stages, beside
    links to the kit's harness and tests; returns the stages directory."""
    kit = os.path.join(tmp, "kit")
    os.makedirs(kit)
    for name in ("harness", "tests"):
        os.symlink(os.path.join(ROOT, name), os.path.join(kit, name))
    subprocess.run([os.path.join(HERE, "mkstages"), "--solved", os.path.join(kit, "stages")],
                   check=True)
    return os.path.join(kit, "stages")


def judge_solved(n, results):
    """(verdict words, ok) for stage n with its TODOs solved."""
    if results is None or not results["built"]:
        return "does not build", False
    got, top = results["scores"].get(str(n), (0, 100))
    return f"{got:g}/{top:g}", results["passed"] and got == top


def repeat(pool, done):
    """Grade each caught mutant of done REPEATS - 1 more times, fastest
    first, within REPEAT_SECONDS; returns done with each mutant's verdict
    over all its runs (runs: how many were done)."""
    until = time.monotonic() + REPEAT_SECONDS
    order = sorted((m for m in done if m["ok"]), key=lambda m: m["seconds"])
    later = {m["name"]: pool.submit(again, m, until) for m in order}
    return [later[m["name"]].result() if m["name"] in later else m for m in done]


def again(m, until):
    """m (caught once) graded REPEATS - 1 more times before until, if there is time."""
    if time.monotonic() >= until:
        return m
    r = mutants.grade(m, False, REPEATS - 1, until)
    if r["ok"]:
        r["verdict"] = f"caught in {1 + r['runs']} of {1 + r['runs']} runs"
    else:
        r["verdict"] += " (a repeat: it was caught in the first run)"
    r["runs"] += 1
    return r


def repeat_summary(done):
    """A line on the repeats: how many mutants were caught in every one of
    REPEATS runs, and which had fewer runs for want of time."""
    full = [m for m in done if m["ok"] and m.get("runs", 1) >= REPEATS]
    short = [m["name"].split("-")[0] for m in done if m["ok"] and m.get("runs", 1) < REPEATS]
    line = f"repeats: {len(full)} of {len(done)} mutants caught in {REPEATS} of {REPEATS} runs"
    if short:
        line += (f"; {len(short)} caught in fewer runs, for the {REPEAT_SECONDS:g} s repeat "
                 f"budget ({' '.join(short)}): make mutants MUTANT_RUNS={REPEATS} runs them all")
    return line


def main():
    ok, problems = True, []
    with tempfile.TemporaryDirectory(prefix="teeth-") as tmp:
        ref, ref_out = check(tmp, "reference", "--stage", "9", "--dir",
                             os.path.join(ROOT, "solution"))
        if ref is None or not ref["passed"]:
            print(ref_out)      # the reference's failures, in full
            ok = False
        solved = solved_tree(tmp)
        # Four at once on two cores: the checks wait on sockets and timers
        # far more than they compute.
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            runs = {(n, kind): pool.submit(check, tmp, f"{kind}{n}", "--stage", str(n), "--dir",
                                           os.path.join(top, d), "--programs", prog)
                    for n, d, prog in stages()
                    for kind, top in (("starter", os.path.join(ROOT, "stages")),
                                      ("solved", solved))}
            graded = [pool.submit(mutants.grade, m, False)
                      for m in mutants.select([], rubric.load())]
            done = repeat(pool, [g.result() for g in graded])
        scores = mutants.stage_scores(done)
        problems += [f"mutant {m['name']}: {m['verdict']}\n    bug: {m['bug']}"
                     for m in done if not m["ok"]]
        ok = ok and all(m["ok"] for m in done)
        print(f"{'stage':<7}{'starter':<56}{'solved':<10}{'reference':<11}mutants caught")
        for n, d, prog in stages():
            words, good = judge_starter(n, runs[n, "starter"].result()[0])
            solved_words, solved_good = judge_solved(n, runs[n, "solved"].result()[0])
            score = (ref or {}).get("scores", {}).get(str(n))
            refwords = f"{score[0]:g}/{score[1]:g}" if score else "no tests"
            good = good and solved_good and score is not None and score[0] == score[1]
            ok = ok and good
            caught, total = scores.get(n, (0, 0))
            good = good and caught == total
            print(f"{n:<7}{words:<56}{solved_words:<10}{refwords:<11}{caught}/{total}"
                  f"{'' if good else '   <-- WRONG'}")
            if not solved_good:
                problems.append(f"stage {n} solved:\n" + runs[n, "solved"].result()[1])
            if not judge_starter(n, runs[n, "starter"].result()[0])[1]:
                problems.append(f"stage {n} starter:\n" + runs[n, "starter"].result()[1])
    if 9 in scores:
        what = "(beyond the stages' tests: the reference's tests catch these)"
        print(f"{'ref':<7}{what:<77}{scores[9][0]}/{scores[9][1]}")
    print(repeat_summary(done))
    for text in problems:
        print("-" * 80 + "\n" + text)
    print("teeth check:", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
