"""Files the kit writes from its own tables (labs.md's points, docs/faults.md).

`make stages` writes them; `make check-stages` checks they are current.
"""


def write_or_check(path, old, new, check, hint):
    """Write new to path if it differs from old (the file's text, or None);
    with check, write nothing and return 1 (after printing hint) if it
    differs. Returns 0 otherwise."""
    if old == new:
        return 0
    if check:
        print(hint)
        return 1
    with open(path, "w") as f:
        f.write(new)
    return 0
