#!/usr/bin/env python3
"""Write docs/faults.md, the fault catalogue, from its rows in kit/faults.py.

`make stages` runs this; `make check-stages` runs it with --check, which
changes nothing and exits 1 if docs/faults.md is out of date.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))  # harness/instructor/
HARNESS = os.path.dirname(HERE)
sys.path.insert(0, HARNESS)
from kit.faults import ROWS  # noqa: E402
from kit.generated import write_or_check  # noqa: E402

DOC = os.path.join(os.path.dirname(HARNESS), "docs", "faults.md")
GROUPS = (("client", "What a client may send"), ("origin", "What an origin may do"),
          ("resources", "Resources that run out"))

INTRO = """# The fault catalogue

Everything a hostile client, a broken origin or an exhausted machine can do to
the proxy that we know of, and what the proxy does about it. Each row is a
test against the reference (`harness/instructor/test_reference_faults.py`, run by `make
test`), which checks three things: what the client gets; that the proxy goes
on serving (the next client gets its page); and that `log.txt` has exactly
one line for the scenario (two for the loop: the request passes through the
proxy twice), with the status the client got.

The proxy runs with `--header-timeout 1 --timeout 1` in these tests. This
file is written from `harness/kit/faults.py` by `make stages`: edit the rows
there.
"""


def render():
    """The whole of docs/faults.md."""
    out = [INTRO]
    for group, title in GROUPS:
        out += [f"\n## {title}\n", "| input | the client gets | test |", "|---|---|---|"]
        out += [f"| {r.given} | {r.answer} | `{r.test}` |" for r in ROWS if r.group == group]
    return "\n".join(out) + "\n"


def main():
    text = render()
    try:
        with open(DOC) as f:
            old = f.read()
    except FileNotFoundError:
        old = None
    return write_or_check(DOC, old, text, "--check" in sys.argv[1:],
                          "docs/faults.md differs from harness/kit/faults.py: run make stages")


if __name__ == "__main__":
    sys.exit(main())
