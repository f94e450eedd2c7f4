#!/usr/bin/env python3
"""The teeth check: the reference passes every test, and each stage's
starter fails its own stage's tests while passing every earlier stage's.

usage: teeth.py [--jobs N]       (run from anywhere; `make test` runs it)

Prints the reference's failures if it has any, and a table of stage, starter result
and reference result. Exits 1 if any starter or the reference breaks the rule.
"""
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CHECK = ["/usr/bin/python3", os.path.join(HERE, "check.py")]


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


def main():
    ok = True
    with tempfile.TemporaryDirectory(prefix="teeth-") as tmp:
        ref, ref_out = check(tmp, "reference", "--stage", "9", "--dir",
                             os.path.join(ROOT, "solution"))
        if ref is None or not ref["passed"]:
            print(ref_out)      # the reference's failures, in full
            ok = False
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            runs = {n: pool.submit(check, tmp, f"stage{n}", "--stage", str(n), "--dir",
                                   os.path.join(ROOT, "stages", d), "--programs", prog)
                    for n, d, prog in stages()}
        print(f"{'stage':<7}{'starter':<60}reference")
        for n, d, prog in stages():
            words, good = judge_starter(n, runs[n].result()[0])
            score = (ref or {}).get("scores", {}).get(str(n))
            refwords = f"{score[0]:g}/{score[1]:g}" if score else "no tests"
            good = good and score is not None and score[0] == score[1]
            ok = ok and good
            print(f"{n:<7}{words:<60}{refwords}{'' if good else '   <-- WRONG'}")
    print("teeth check:", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
