#!/usr/bin/env python3
"""Build a stage (or the reference), run its CUnit and pytest tests, and
print a points table. `make test` runs this; students need nothing else.

usage: check.py --stage N --dir DIR [--programs "P ..."] [--out DIR]
                [--only NAME] [--json FILE] [--wrapper CMD] [--san SAN] [-v]

The tests run are those of stages 1..N in rubric.txt that apply here: CUnit
tests of the modules DIR has, and pytest tests of its programs. Exit status:
0 if every one passed, 1 if not, 2 if the kit itself is broken.
"""
import argparse
import difflib
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from kit import grading  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stage", type=int, required=True)
    p.add_argument("--dir", required=True, help="the stage directory (or solution/)")
    p.add_argument("--programs", default="", help="only pytest tests of these programs")
    p.add_argument("--out", help="build into this directory instead of DIR")
    p.add_argument("--only", help="run only these tests, comma-separated: each a test's name "
                   "(suite/test, a pytest name, a rubric id) or its start (rio: every rio test)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--wrapper", default="", help="run programs under this command")
    p.add_argument("--san", default="", help="build with this sanitizer")
    p.add_argument("-v", "--verbose", action="store_true", help="show pytest's own output")
    return p.parse_args()


def matches(name, tid):
    """Whether --only's name picks the test tid ("c:rio/read_table",
    "py:test_stage1_echo.py::test_echo_lines"): the whole id, or its start,
    with or without the file (T=rio picks every rio test)."""
    bare = tid.split(":", 1)[1]
    short = bare.split("::")[-1]
    return any(n.startswith(name) for n in (tid, bare, short))


def resolve_only(only, entries, stage):
    """--only's names as the rubric ids of stages 1..N they pick, joined by
    commas; exits 2 naming the near names if a name picks none."""
    ids = [t for t, e in entries.items() if e.stage <= stage]
    picked = []
    for name in (n.strip() for n in only.split(",") if n.strip()):
        found = [t for t in ids if matches(name, t)]
        if not found:
            names = sorted({t.split(":", 1)[1].split("::")[-1] for t in ids})
            near = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
            sys.exit(f"check.py: no test of stages 1..{stage} is named {name!r} or begins so."
                     + (f" Did you mean: {', '.join(near)}?" if near else
                        " make test (without T=) lists every test in its table."))
        picked += [t for t in found if t not in picked]
    return ",".join(picked)


def main():
    grading.set_sanitizer_env()
    args = parse_args()
    args.dir = os.path.abspath(args.dir)
    entries = grading.load_rubric("check.py")
    if args.only:
        args.only = resolve_only(args.only, entries, args.stage)
    tmp = tempfile.mkdtemp(prefix="check-")
    args.out = args.out and os.path.abspath(args.out)
    try:
        built, log, objdir, bindir = grading.build(args)
        ran, pylog = {}, ""
        unit_only = bool(args.only) and not grading.split_only(args.only)[1]  # CUnit names only
        if not built:
            print("The build failed:\n" + "\n".join(log.splitlines()[-40:]) + "\n")
        if objdir and (built or grading.build_unit(args)):
            ran = grading.run_unit(args, objdir)
        if built and not unit_only:
            py, pylog = grading.run_pytest(args, bindir, tmp)
            ran.update(py)
        if args.verbose:
            print(pylog)
        rows = grading.fill_in(entries, args, ran, built)
        grading.print_failures(rows)
        scores = grading.print_table(rows, args.stage, grading.hidden_points(entries, args.stage))
    except grading.KitError as e:
        sys.exit(f"check.py: {e}")
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
