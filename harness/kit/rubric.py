"""The rubric: one line per graded test, CUnit and pytest alike.

    # id                                   stage points visibility  name students see
    c:rio/readline_table                   1     5      visible     rio_readline: lines...
    py:test_stage1_echo.py::test_lines     1     10     visible     Echoes lines

An id is c:SUITE/TEST for a CUnit test, py:FILE::TEST for a pytest test,
py:hidden/FILE::TEST for a hidden test in harness/hidden/ (graded, never
in a handout), and py:instructor/FILE::TEST for a test of the reference's
own in harness/instructor/ (never shipped).
Each stage's points add up to 100. Weights are changed here and nowhere else.
"""
import os
from dataclasses import dataclass

# PROXYLAB_RUBRIC names another rubric (the self-tests use one they break on purpose).
PATH = os.environ.get("PROXYLAB_RUBRIC") or \
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rubric.txt")
VISIBILITY = ("visible", "hidden", "after_due_date", "after_published")
STAGE_TOTAL = 100


class RubricError(Exception):
    """The rubric file is malformed; the message names the line."""


@dataclass(frozen=True)
class Entry:
    id: str
    stage: int
    points: float
    visibility: str
    name: str


def _parse(path, number, line):
    fields = line.split(None, 4)
    where = f"{path}:{number}"
    if len(fields) < 5:
        raise RubricError(f"{where}: expected: id stage points visibility name")
    tid, stage, points, visibility, name = fields
    if not (tid.startswith("c:") or tid.startswith("py:")):
        raise RubricError(f"{where}: the id {tid!r} must start with c: or py:")
    if not stage.isdigit() or visibility not in VISIBILITY:
        raise RubricError(f"{where}: bad stage {stage!r} or visibility {visibility!r} "
                          f"(one of {', '.join(VISIBILITY)})")
    try:
        value = float(points)
    except ValueError:
        raise RubricError(f"{where}: points {points!r} is not a number") from None
    return Entry(tid, int(stage), value, visibility, name.strip())


def load(path=PATH):
    """The rubric's entries by id, checked; raises RubricError."""
    entries = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            entry = _parse(path, number, line)
            if entry.id in entries:
                raise RubricError(f"{path}:{number}: {entry.id} is listed twice")
            entries[entry.id] = entry
    for stage, total in stage_totals(entries.values()).items():
        if abs(total - STAGE_TOTAL) > 1e-9:
            raise RubricError(f"{path}: stage {stage}'s points add up to {total:g}, "
                              f"not {STAGE_TOTAL}")
    return entries


def is_hidden_test(tid):
    """Whether the test lives in harness/hidden/ (never shipped to students)."""
    return tid.startswith("py:hidden/")


def stage_totals(entries):
    """Points per stage."""
    totals = {}
    for e in entries:
        totals[e.stage] = totals.get(e.stage, 0) + e.points
    return totals
