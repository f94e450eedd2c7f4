#!/usr/bin/env python3
"""Write docs/mutants.md, the catalogue of plausible student bugs, from the
headers of harness/instructor/mutants/*.patch: each bug, where it comes from, and the
tests that catch it, stage by stage.

`make stages` runs this; `make check-stages` runs it with --check, which
changes nothing and exits 1 if docs/mutants.md is out of date.
"""
import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))  # harness/instructor/
HARNESS = os.path.dirname(HERE)
sys.path.insert(0, HARNESS)
sys.path.insert(0, HERE)
import mutants  # noqa: E402
from kit import rubric  # noqa: E402
from kit.generated import write_or_check  # noqa: E402

DOC = os.path.join(os.path.dirname(HARNESS), "docs", "mutants.md")
TITLES = {1: "an echo server", 2: "an HTTP request parser", 3: "a sequential forward proxy",
          4: "a thread per client", 5: "a request log", 6: "a cache", 7: "HTTPS tunnels",
          8: "keep-alive", 9: "beyond the stages' tests (the reference's tests catch these)"}

INTRO = """# The bug catalogue

The bugs students plausibly write, stage by stage, each a mutant of the
reference in `harness/instructor/mutants/` that the stage's tests must catch: a patch
that puts the bug in, with a header that says what the bug is (`# bug:`),
where it comes from (`# from:`: a TODO's step, a rule of labs.md and which
side of its boundary, a limit, an error path), the stage whose code it
breaks, and the tests that must fail on it (`# catches:`). `make mutants`
grades each (`MUTANT_RUNS=5`: five times over), and the teeth check in
`make test` fails if one survives: it grades every mutant once, then again
four times, fastest first, for as long as its repeat budget allows
(`TEETH_REPEAT_SECONDS`, 30), and says which had fewer runs. Its table
gives each stage's mutation score. A bug that a stage's tests let through is a missing test: add the
mutant and the test together (docs/instructors.md, "Adding a test, and its
mutant").

A bug that no test can reach is listed under its stage with the reason
(harness/instructor/mutants/uncaught.txt). This file is written from the mutants'
headers and that list by `make stages`.
"""


def cell(text):
    """text made safe for a Markdown table cell."""
    return text.replace("|", "\\|")


def render():
    """The whole of docs/mutants.md."""
    entries = rubric.load()
    found = [mutants.load(p, entries)
             for p in sorted(glob.glob(os.path.join(mutants.MUTANTS, "*.patch")))]
    out = [INTRO]
    for stage in sorted({int(m["stage"]) for m in found}):
        mine = [m for m in found if int(m["stage"]) == stage]
        out += [f"\n## Stage {stage}: {TITLES.get(stage, '')} ({len(mine)} mutants)\n",
                "| mutant | the bug | from | caught by |", "|---|---|---|---|"]
        out += [f"| {m['name'].split('-')[0]} | {cell(m['bug'])}"
                + (f" (built with `--san {m['san']}`)" if m.get("san") else "")
                + f" | {cell(m.get('from', '—'))} | "
                + "<br>".join(f"`{t}`" for t in m["catches"]) + " |" for m in mine]
        left = [u for u in uncaught() if u[0] == stage]
        if left:
            out += ["", "Plausible bugs with no mutant, and why:", "",
                    "| the bug | why no mutant |", "|---|---|"]
            out += [f"| {cell(bug)} | {cell(why)} |" for _, bug, why in left]
    return "\n".join(out) + "\n"


def uncaught():
    """(stage, bug, why) of each line of harness/instructor/mutants/uncaught.txt."""
    rows = []
    with open(os.path.join(mutants.MUTANTS, "uncaught.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                stage, bug, why = (part.strip() for part in line.split("|", 2))
                rows.append((int(stage), bug, why))
    return rows


def main():
    check = "--check" in sys.argv[1:]
    try:
        with open(DOC) as f:
            old = f.read()
    except FileNotFoundError:
        old = None
    return write_or_check(DOC, old, render(), check,
                          "docs/mutants.md is out of date: run make stages and commit it")


if __name__ == "__main__":
    sys.exit(main())
