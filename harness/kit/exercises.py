"""Exercise regions: how a handout marks the code a student writes, so that
`make carry` moves a student's own code from one stage's files into the next
stage's exactly, and leaves every given line as that stage has it.

In solution/, an exercise is a block "#if STAGE > M" ... ["#else" stub]
"#endif". mark() puts a marker line before and after each such block, under
"#if STAGE >= M", so that every handout of stage M or later shows it:

    /* ==== stage 3 exercise: forward_request ==== */
    ...the stub at stage 3, the reference's answer in later stages...
    /* ==== end of stage 3 exercise: forward_request ==== */

A block that is a function's whole body is named after the function; one at
the top of a file (helpers, types) is "helpers N", N counting the top-level
blocks of that stage in that file. Where a later stage gives lines inside an
earlier exercise (forward_request gains logging in stage 5), mkstages writes
"(stage 5 changed it)" in the end marker (changed()), naming the last stage
that did: carry from that stage on may replace it, carry from before keeps
the given version.

  exercises.py mark DIR FILE...     each FILE with its markers, into DIR
  exercises.py changed OUT ANSWERS  annotate the end markers of OUT/*/ (the
                                    handouts) against ANSWERS/*/ (each stage
                                    as its own answer: mkstages --answers)
"""
import os
import re
import sys

EXERCISE_IF = re.compile(r"^#if STAGE > (\d+)(.*)$")
MARKER = re.compile(r"^(\s*)/\* ==== (end of )?stage (\d+) exercise: ([\w ]+?)"
                    r"(?: \(stage (\d+) changed it\))? ==== \*/$")
SIGNATURE = re.compile(r"^[A-Za-z_][^(]*?\b(\w+)\(")


def marker(indent, stage, name, end=False, changed_in=None):
    """The marker line (with no newline) that opens or ends an exercise."""
    note = f" (stage {changed_in} changed it)" if changed_in else ""
    return f"{indent}/* ==== {'end of ' if end else ''}stage {stage} exercise: {name}{note} ==== */"


def _function_name(lines, brace):
    """The name of the function whose body opens at lines[brace] ("{")."""
    for line in reversed(lines[:brace]):
        m = SIGNATURE.match(line)
        if m and not line.startswith("#"):
            return m.group(1)
    raise ValueError(f"line {brace + 1}: no function signature above this body")


def _matching_endif(lines, start):
    """The index of the #endif that closes the #if at lines[start]."""
    depth = 0
    for i in range(start, len(lines)):
        if lines[i].startswith("#if"):
            depth += 1
        elif lines[i].startswith("#endif"):
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"line {start + 1}: #if with no #endif")


def _previous_code(lines, i):
    """The last non-blank line before lines[i], or ""."""
    return next((line for line in reversed(lines[:i]) if line.strip()), "")


def mark(text, where="file"):
    """text (a solution/ file) with each exercise block between markers, each
    under "#if STAGE >= M" plus the block's own further condition."""
    lines = text.split("\n")
    out, top, end_at = [], {}, {}
    for i, line in enumerate(lines):
        m = EXERCISE_IF.match(line)
        if m and end_at:
            raise ValueError(f"{where}, line {i + 1}: an exercise inside another exercise")
        if m:
            stage, rest = m.group(1), m.group(2)
            if _previous_code(lines, i) == "{":
                indent, name = "    ", _function_name(lines, _brace(lines, i))
            else:
                top[stage] = top.get(stage, 0) + 1
                indent, name = "", f"helpers {top[stage]}"
            guard = f"#if STAGE >= {stage}{rest}"
            out += [guard, marker(indent, stage, name), "#endif"]
            end_at[_matching_endif(lines, i)] = [guard, marker(indent, stage, name, True), "#endif"]
        out.append(line)
        out += end_at.pop(i, [])
    return "\n".join(out)


def _brace(lines, i):
    """The index of the "{" line that the block at lines[i] follows."""
    return max(j for j in range(i) if lines[j] == "{")


def regions(text, where="file"):
    """{(stage, name): (begin index, end index, changed_in)} of text's lines,
    begin and end being the marker lines. Raises ValueError, naming where and
    the line, on a marker without its pair, out of order, or twice."""
    found, open_ = {}, None
    for i, line in enumerate(text.split("\n")):
        m = MARKER.match(line)
        if not m:
            continue
        key = (int(m.group(3)), m.group(4))
        label = f"{where}, line {i + 1}: the stage {key[0]} exercise {key[1]}"
        if not m.group(2):
            if open_ is not None:
                raise ValueError(f"{label} begins before the end of {open_[0][1]}")
            if key in found:
                raise ValueError(f"{label} is marked twice")
            open_ = (key, i)
        elif open_ is None or open_[0] != key:
            raise ValueError(f"{label} ends, but it did not begin there")
        else:
            found[key] = (open_[1], i, int(m.group(5)) if m.group(5) else None)
            open_ = None
    if open_ is not None:
        raise ValueError(f"{where}, line {open_[1] + 1}: the stage {open_[0][0]} exercise "
                         f"{open_[0][1]} has no end marker")
    return found


def body(text, key):
    """The lines of text between the markers of exercise key (no markers)."""
    begin, end, _ = regions(text)[key]
    return text.split("\n")[begin + 1:end]


def changed(out, answers):
    """Write "(stage X changed it)" in the end marker of each exercise of the
    handouts in out/*/ that a later stage changed, X being the last stage up
    to the handout's own whose lines differ from the stage before (from the
    exercise's own stage's answer, in answers/*/, on)."""
    dirs = sorted(d for d in os.listdir(out) if re.match(r"\d+-", d))
    answer_dir = {int(d.split("-")[0]): os.path.join(answers, d) for d in dirs}
    seen = {}           # (file, exercise): (its lines at the last stage, the stage that changed it)
    for d in dirs:
        n = int(d.split("-")[0])
        for f in sorted(os.listdir(os.path.join(out, d))):
            if f.endswith((".c", ".h")):
                _annotate(os.path.join(out, d, f), n, answer_dir, seen)


def _annotate(path, n, answer_dir, seen):
    """changed() for one handout file of stage n."""
    with open(path) as f:
        lines = f.read().split("\n")
    name = os.path.basename(path)
    for key, (begin, end, _) in regions("\n".join(lines), path).items():
        stage, exercise = key
        if stage >= n:
            continue
        if (name, key) not in seen:
            with open(os.path.join(answer_dir[stage], name)) as f:
                seen[(name, key)] = (body(f.read(), key), None)
        before, last = seen[(name, key)]
        now = lines[begin + 1:end]
        last = n if now != before else last
        seen[(name, key)] = (now, last)
        if last:
            indent = re.match(r"\s*", lines[end]).group(0)
            lines[end] = marker(indent, stage, exercise, True, last)
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main(argv):
    """The command line (see the module's docstring); returns the exit status."""
    if len(argv) >= 3 and argv[0] == "mark":
        for path in argv[2:]:
            with open(path) as f:
                text = mark(f.read(), path)
            with open(os.path.join(argv[1], os.path.basename(path)), "w") as f:
                f.write(text)
    elif len(argv) == 3 and argv[0] == "changed":
        changed(argv[1], argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ValueError as e:
        sys.exit(f"exercises.py: {e}")
