#!/usr/bin/env python3
"""Grade every known-bad variant of the reference (harness/instructor/mutants/) and check
that each loses the tests meant to catch it: the grader proves itself.

usage: mutants.py [-j N] [--runs N] [--keep] [NAME|NUMBER ...]

Each mutant is a unified diff against solution/ (patch -p1 from the kit's
root), after a header of '#' lines:
    # bug: what is wrong, in a sentence
    # from: where a student meets it: a TODO's step, a rule of labs.md (and
    #       which side of it), a limit, an error path (docs/mutants.md)
    # stage: the stage whose code it breaks
    # catches: rubric ids (as in rubric.txt), separated by spaces
    # san: a sanitizer to build it with (optional; e.g. thread, for races)
For each, a copy of solution/ in a temp dir is patched (no fuzz allowed),
built and graded by check.py with --only its catches; the mutant is caught
when it builds and every one of those tests fails, in each of --runs runs
(1; `make mutants MUTANT_RUNS=5` shows a catch is no accident). The table
ends with each stage's mutation score: its mutants caught, of all. Exit
status: 0 if every mutant is caught, 1 if not, 2 if a mutant's header is
broken.
"""
import argparse
import concurrent.futures
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))  # harness/instructor/
HARNESS = os.path.dirname(HERE)
ROOT = os.path.dirname(HARNESS)
sys.path.insert(0, HARNESS)
from kit import rubric  # noqa: E402

MUTANTS = os.path.join(HERE, "mutants")
PYTHON = "/usr/bin/python3"
TIME_LIMIT = 900        # a safety net per mutant: a mutant that hangs a test fails it first
HEADER = re.compile(r"^#\s*(\w+):\s*(.*)$")
# What a build leaves in solution/: never copied.
BUILD_OUTPUTS = shutil.ignore_patterns("build", "log.txt", "echoserver", "httpd", "proxy")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="only these mutants (names, or their numbers: 04)")
    p.add_argument("-j", "--jobs", type=int, default=2, help="mutants graded at once (2)")
    p.add_argument("--runs", type=int, default=1, help="grade each mutant this many times (1)")
    p.add_argument("--keep", action="store_true", help="keep each mutant's temp dir, and say where")
    return p.parse_args()


def load(path, entries):
    """A mutant's header as a dict (bug, stage, catches: a list, san); exits 2 if it is broken."""
    fields = {}
    with open(path) as f:
        for line in f:
            if not line.startswith("#"):
                break
            m = HEADER.match(line)
            if m:
                fields[m.group(1)] = m.group(2).strip()
    name = os.path.basename(path)
    fields["catches"] = fields.get("catches", "").split()
    unknown = [t for t in fields["catches"] if t not in entries]
    if not fields.get("bug") or not fields["catches"] or unknown:
        sys.exit(f"mutants.py: {name}: the header needs '# bug:' and '# catches:' with rubric ids"
                 + (f"; not in rubric.txt: {' '.join(unknown)}" if unknown else ""))
    fields.update(name=name[:-len(".patch")], path=path)
    return fields


def copy_reference(tmp, san=""):
    """solution/ copied into tmp, its Makefile including the kit's stage.mk
    (so tests/ and harness/ are the kit's), with the reference's objects of
    san's build if it has them (times kept: make then compiles only what
    the patch changes). Returns the copy's path."""
    copy = os.path.join(tmp, "solution")
    shutil.copytree(os.path.join(ROOT, "solution"), copy, ignore=BUILD_OUTPUTS)
    variant = san.replace(",", "-") or "plain"
    built = os.path.join(ROOT, "solution", "build", variant)
    if os.path.isdir(built):
        shutil.copytree(built, os.path.join(copy, "build", variant), symlinks=True)
    makefile = os.path.join(copy, "Makefile")
    with open(makefile) as f:
        text = f.read()
    text, n = re.subn(r"^include \.\./harness/stage\.mk$", f"include {HARNESS}/stage.mk", text,
                      flags=re.M)
    if n != 1:
        raise RuntimeError("solution/Makefile does not include ../harness/stage.mk")
    with open(makefile, "w") as f:
        f.write(text)
    return copy


def grade(m, keep, runs=1, until=None):
    """Patch, build and grade mutant m runs times (one build), the runs
    after the first only while time.monotonic() < until (if until is
    given); returns m with verdict, ok, runs (those done) and seconds:
    caught only if caught in every run done."""
    start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix=f"mutant-{m['name']}-")
    try:
        copy = copy_reference(tmp, m.get("san", ""))
        with open(m["path"]) as f:
            r = subprocess.run(["patch", "-p1", "--batch", "--forward", "--fuzz=0", "-d", tmp],
                               stdin=f, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            return {**m, "ok": False, "verdict": "PATCH FAILS: " + r.stdout.strip().splitlines()[-1],
                    "runs": 0, "seconds": time.monotonic() - start}
        verdict, done = grade_runs(m, copy, tmp, runs, until)
        return {**m, **verdict, "runs": done, "seconds": time.monotonic() - start}
    finally:
        if keep:
            print(f"{m['name']}: kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def grade_runs(m, copy, tmp, runs, until):
    """Grade the patched copy up to runs times, stopping at the first run
    that does not catch it, or once until has passed; returns the last
    verdict and how many runs were done."""
    for run in range(1, runs + 1):
        if run > 1 and until is not None and time.monotonic() >= until:
            verdict["verdict"] = f"caught in {run - 1} of {run - 1} runs (of {runs}: out of time)"
            return verdict, run - 1
        verdict = grade_once(m, copy, os.path.join(tmp, f"results{run}.json"))
        if run == 1 and verdict["verdict"].startswith("DOES NOT BUILD"):
            # Perhaps an object copied while something else built the
            # reference: build from nothing before calling the mutant broken.
            shutil.rmtree(os.path.join(copy, "build"), ignore_errors=True)
            verdict = grade_once(m, copy, os.path.join(tmp, "results-clean.json"))
        if not verdict["ok"]:
            if runs > 1:
                verdict["verdict"] += f" (in run {run} of {runs})"
            return verdict, run
    if runs > 1:
        verdict["verdict"] = f"caught in {runs} of {runs} runs"
    return verdict, runs


def grade_once(m, copy, results):
    """Grade the built mutant in copy once; returns its verdict (judge())."""
    cmd = [PYTHON, os.path.join(HARNESS, "check.py"), "--stage", "9", "--dir", copy,
           "--only", ",".join(m["catches"]), "--json", results]
    if m.get("san"):
        cmd += ["--san", m["san"]]
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             errors="replace", timeout=TIME_LIMIT).stdout
    except subprocess.TimeoutExpired:
        return {"ok": False, "verdict": f"TIMED OUT after {TIME_LIMIT} s"}
    return judge(m, results, out)


def judge(m, results, out):
    """The verdict from check.py's results: caught if built and every test meant to catch it failed."""
    try:
        with open(results) as f:
            report = json.load(f)
    except (OSError, ValueError):
        return {"ok": False, "verdict": "CHECK.PY BROKE: " + " | ".join(out.strip().splitlines()[-3:])}
    if not report["built"]:
        return {"ok": False, "verdict": "DOES NOT BUILD (a mutant must build, and fail tests)"}
    outcome = {t["id"]: t["outcome"] for t in report["tests"]}
    missing = [t for t in m["catches"] if t not in outcome]
    survived = [t for t in m["catches"] if outcome.get(t) == "passed"]
    if missing or survived:
        return {"ok": False, "verdict": "SURVIVES " + " ".join(survived)
                + (" (did not run: " + " ".join(missing) + ")" if missing else "")}
    return {"ok": True, "verdict": f"caught ({len(m['catches'])} of {len(m['catches'])} tests fail)"}


def print_table(done):
    print(f"{'mutant':<36} {'verdict':<28} seconds")
    for m in done:
        print(f"{m['name']:<36} {m['verdict']:<28} {m['seconds']:>5.0f}")
        print(f"    bug: {m['bug']}" + (f"  [built with --san {m['san']}]" if m.get("san") else ""))
        print("    caught by: " + "\n               ".join(m["catches"]))


def stage_scores(done):
    """{stage: (caught, mutants)} of graded mutants, by the stage they break."""
    scores = {}
    for m in done:
        caught, total = scores.get(int(m["stage"]), (0, 0))
        scores[int(m["stage"])] = (caught + m["ok"], total + 1)
    return dict(sorted(scores.items()))


def select(names, entries):
    """The mutants named (all if none), loaded; exits if a name matches none."""
    paths = sorted(glob.glob(os.path.join(MUTANTS, "*.patch")))
    if names:
        stems = {os.path.basename(p)[:-len(".patch")]: p for p in paths}
        picked = {n: [s for s in stems if s == n.removesuffix(".patch") or s.startswith(n + "-")]
                  for n in names}
        unmatched = [n for n, found in picked.items() if not found]
        if unmatched:
            sys.exit(f"mutants.py: no such mutant in {MUTANTS}: {' '.join(unmatched)}")
        paths = sorted({stems[s] for found in picked.values() for s in found})
    if not paths:
        sys.exit(f"mutants.py: no mutants in {MUTANTS}")
    return [load(p, entries) for p in paths]


def main():
    args = parse_args()
    mutants = select(args.names, rubric.load())
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        done = list(pool.map(lambda m: grade(m, args.keep, args.runs), mutants))
    print_table(done)
    for stage, (caught, total) in stage_scores(done).items():
        name = "the reference's own" if stage == 9 else f"stage {stage}"
        print(f"mutation score, {name}: {caught} of {total} caught ({100 * caught // total}%)")
    caught = sum(m["ok"] for m in done)
    print(f"{caught} of {len(done)} mutants caught in {time.monotonic() - start:.0f} s"
          + ("" if caught == len(done) else ": the tests named in a survivor's header let its bug through"))
    return 0 if caught == len(done) else 1


if __name__ == "__main__":
    sys.exit(main())
