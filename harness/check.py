#!/usr/bin/env python3
"""Build a stage (or the reference), run its CUnit and pytest tests, and
print a points table. `make test` runs this; students need nothing else.

usage: check.py --stage N --dir DIR [--programs "P ..."] [--out DIR]
                [--only NAME[,NAME...]] [--json FILE] [--wrapper CMD] [--san SAN] [-v]

The tests run are those of stages 1..N in rubric.txt that apply here: CUnit
tests of the modules DIR has, and pytest tests of its programs. Exit status:
0 if every one passed, 1 if not, 2 if the kit itself is broken.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from kit import rubric  # noqa: E402

PYTEST = ["/usr/bin/python3", "-m", "pytest"]
UNIT_LINE = re.compile(r"^(PASS|FAIL|CRASH|TIMEOUT)\s+(\S+)(.*)$")
WIDTH = 100


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stage", type=int, required=True)
    p.add_argument("--dir", required=True, help="the stage directory (or solution/)")
    p.add_argument("--programs", default="", help="only pytest tests of these programs")
    p.add_argument("--out", help="build into this directory instead of DIR")
    p.add_argument("--only", help="run only this test (suite/test, or a pytest name); several "
                   "separated by commas, each maybe a rubric id (c:suite/test, py:file.py::test)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--wrapper", default="", help="run programs under this command")
    p.add_argument("--san", default="", help="build with this sanitizer")
    p.add_argument("-v", "--verbose", action="store_true", help="show pytest's own output")
    return p.parse_args()


def split_only(only):
    """--only's names as (CUnit names, pytest names): rubric ids lose their
    c: or py: prefix; a name with a '/' is a CUnit test."""
    names = [re.sub(r"^(c|py):", "", n.strip()) for n in (only or "").split(",") if n.strip()]
    return [n for n in names if "/" in n], [n for n in names if "/" not in n]


def make(args, *targets):
    """Run make in the stage directory; returns the CompletedProcess."""
    cmd = ["make", "-C", args.dir, "--no-print-directory", f"SAN={args.san}", *targets]
    if args.out:
        cmd += [f"OBJDIR={args.out}", f"BINDIR={args.out}"]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def build(args):
    """Build the programs and the unit runner; returns (ok, output, objdir, bindir)."""
    r = make(args, "build-all")
    objdir, bindir = make(args, "-s", "dirs").stdout.split()
    return r.returncode == 0, r.stdout, objdir, bindir


def run_unit(args, objdir):
    """Run the CUnit tests; returns {id: result}."""
    unit_names, _ = split_only(args.only)
    cmd = [os.path.join(objdir, "unit")] + unit_names
    if args.only and not unit_names:
        return {}
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           errors="replace", timeout=900)
        text = r.stdout
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
    results, current = {}, None
    for line in text.splitlines():
        m = UNIT_LINE.match(line)
        if m:
            verdict, name, rest = m.groups()
            current = results[f"c:{name}"] = {
                "outcome": "passed" if verdict == "PASS" else "failed",
                "reason": rest.strip(" ()") if verdict in ("CRASH", "TIMEOUT") else "",
                "output": line}
            if verdict in ("CRASH", "TIMEOUT"):
                current["reason"] = f"{verdict.lower()}: {current['reason']}"
        elif current is not None and line.startswith("         "):
            current["output"] += "\n" + line
            current["reason"] = current["reason"] or line.strip()
    return results


def run_pytest(args, bindir, tmp):
    """Run the black-box tests; returns ({id: result}, pytest's output)."""
    results_file = os.path.join(tmp, "pytest.json")
    _, py_names = split_only(args.only)
    node_ids = bool(args.only) and all("::" in n for n in py_names)    # rubric ids
    targets = [os.path.join(HERE, n) for n in py_names] if node_ids else [HERE]
    cmd = PYTEST + ["-c", os.path.join(HERE, "pytest.ini"), "--rootdir", HERE, *targets, "-q", "--tb=short",
                    f"--stage={args.stage}", f"--bin-dir={bindir}", f"--programs={args.programs}",
                    f"--results={results_file}", f"--wrapper={args.wrapper}"]
    if args.only and not node_ids:
        cmd += ["-k", " or ".join(py_names)]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       errors="replace")
    if r.returncode not in (0, 1, 5):       # 5: no test selected
        print(r.stdout)
        sys.exit(f"check.py: pytest failed to run (status {r.returncode}); see above")
    try:
        with open(results_file) as f:
            tests = json.load(f)["tests"]
    except FileNotFoundError:
        tests = []
    return {t["id"]: t for t in tests}, r.stdout


def fill_in(every_entry, args, ran, built):
    """The table's rows: every test of stages 1..N that ran, plus the stage's
    own tests that should have run but did not (say, because the build
    failed). Tests of later stages' modules that ran are left out."""
    entries = {k: v for k, v in every_entry.items() if v.stage <= args.stage}
    rows = []
    for tid, entry in entries.items():
        result = ran.get(tid)
        own = entry.stage == args.stage or (args.stage > 8 and entry.stage <= 8)
        if result is None and not (own and not args.only):
            continue
        if result is None:
            result = {"outcome": "failed", "output": "",
                      "reason": "not built: see the compiler's errors above" if not built
                      else "this test did not run"}
        earned = entry.points if result["outcome"] == "passed" else 0
        rows.append({"id": tid, "name": entry.name, "stage": entry.stage,
                     "max_points": entry.points, "points": earned, **result})
    unknown = sorted(set(ran) - set(every_entry))
    if unknown:
        sys.exit("check.py: these tests have no entry in rubric.txt:\n  " + "\n  ".join(unknown))
    return rows


SHOWN_FAILURES = 8


def print_failures(rows):
    """The details of the first few failures: the first one is the one to fix."""
    failed = [r for r in rows if r["outcome"] != "passed"]
    for r in failed[:SHOWN_FAILURES]:
        kind, name = r["id"].split(":", 1)
        print(f"FAILED  {r['name']}\n  ({name}; run it alone: make test T={name.split('::')[-1]})")
        lines = (r.get("output") or r["reason"]).rstrip().splitlines()
        if kind == "c" and lines and UNIT_LINE.match(lines[0]):
            lines = [l.strip() for l in lines[1:]] or [r["reason"]]
        print("\n".join("  " + l for l in lines[:60]))
        print()
    if len(failed) > SHOWN_FAILURES:
        print(f"... and {len(failed) - SHOWN_FAILURES} more failed tests: see the table; "
              "make test T=NAME shows one in full.\n")


def print_table(rows, args):
    title = {s: f"Stage {s}" for s in sorted({r["stage"] for r in rows})}
    scores = {}
    for stage in title:
        group = [r for r in rows if r["stage"] == stage]
        got, top = sum(r["points"] for r in group), sum(r["max_points"] for r in group)
        scores[stage] = (got, top)
        note = "" if stage == args.stage or args.stage > 8 else "  (an earlier stage: must still pass)"
        if stage > 8:
            title[stage] = "The reference as a proxy people run"
        print(f"{title[stage]}{note}")
        for r in group:
            status = "PASS" if r["outcome"] == "passed" else "FAIL"
            print(f"  {r['name'][:60]:<60} {r['points']:>3g}/{r['max_points']:<3g} {status}")
            if status == "FAIL":
                reason = re.sub(r"^\S+\.c:\d+: ", "", r["reason"])
                print(f"      {reason[:WIDTH + 20]}")
        print(f"  {'total':<60} {got:>3g}/{top:<3g}")
    return scores


# Sanitizers stop at their first report, so that it fails the test it happened in.
SANITIZER_ENV = {"ASAN_OPTIONS": "abort_on_error=0:halt_on_error=1",
                 "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
                 "TSAN_OPTIONS": "halt_on_error=1:second_deadlock_stack=1"}


def main():
    for name, value in SANITIZER_ENV.items():
        os.environ.setdefault(name, value)
    args = parse_args()
    args.dir = os.path.abspath(args.dir)
    try:
        entries = rubric.load()
    except rubric.RubricError as e:
        sys.exit(f"check.py: {e}")
    tmp = tempfile.mkdtemp(prefix="check-")
    args.out = args.out and os.path.abspath(args.out)
    try:
        built, log, objdir, bindir = build(args)
        ran, pylog = {}, ""
        unit_only = bool(args.only) and not split_only(args.only)[1]   # only CUnit tests named
        if built:
            ran = run_unit(args, objdir)
            if not unit_only:
                py, pylog = run_pytest(args, bindir, tmp)
                ran.update(py)
        else:
            print("The build failed:\n" + "\n".join(log.splitlines()[-40:]) + "\n")
        if args.verbose:
            print(pylog)
        rows = fill_in(entries, args, ran, built)
        print_failures(rows)
        scores = print_table(rows, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    passed = all(r["outcome"] == "passed" for r in rows) and bool(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"stage": args.stage, "built": built, "passed": passed,
                       "scores": {str(k): v for k, v in scores.items()}, "tests": rows}, f, indent=1)
    npass = sum(r["outcome"] == "passed" for r in rows)
    print(f"{npass} passed, {len(rows) - npass} failed")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
