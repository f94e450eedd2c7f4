#!/usr/bin/env python3
"""Write each stage's points table into labs.md, from rubric.txt.

labs.md marks where a table goes with a pair of comments:
    <!-- points: stage N -->
    ...generated table...
    <!-- end points -->
`make stages` runs this; `make check-stages` runs it with --check, which
changes nothing and exits 1 if labs.md is out of date.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))  # harness/instructor/
HARNESS = os.path.dirname(HERE)
sys.path.insert(0, HARNESS)
from kit import rubric  # noqa: E402
from kit.generated import write_or_check  # noqa: E402

LABS = os.path.join(os.path.dirname(HARNESS), "labs.md")
BLOCK = re.compile(r"(<!-- points: stage (\d+) -->\n).*?(<!-- end points -->)", re.S)


def table(entries, stage):
    """The markdown points table of one stage."""
    rows = [e for e in entries.values() if e.stage == stage]
    shown = [e for e in rows if e.visibility == "visible"]
    lines = ["| test | kind | points |", "|---|---|---:|"]
    for e in shown:
        kind = "unit (CUnit)" if e.id.startswith("c:") else "black-box (pytest)"
        lines.append(f"| {e.name} | {kind} | {e.points:g} |")
    hidden = sum(e.points for e in rows if e.visibility != "visible")
    if hidden:
        lines.append(f"| tests not shown before grading | | {hidden:g} |")
    lines.append(f"| **total** | | **{sum(e.points for e in rows):g}** |")
    return "\n".join(lines) + "\n"


def main():
    entries = rubric.load()
    with open(LABS) as f:
        text = f.read()
    new = BLOCK.sub(lambda m: m.group(1) + table(entries, int(m.group(2))) + m.group(3), text)
    return write_or_check(LABS, text, new, "--check" in sys.argv[1:],
                          "labs.md: a points table differs from rubric.txt: run make stages")


if __name__ == "__main__":
    sys.exit(main())
