#!/usr/bin/env python3
"""Find stale text in the stage handouts: what a stage shows but does not have.

mkstages writes each handout from solution/ with unifdef, which keeps every
line outside a STAGE conditional. Text written for one stage then shows in
others, where it no longer fits. This finds three kinds:

  contract   a comment that describes a declaration which is not under it:
             one followed by another comment, an #endif or #else, a closing
             brace or the end of the file; or one that says "As above"
             with no function prototype above it.
  macro      a #define no file of the stage uses: gcc -Wunused-macros over
             each .c file (it reports only macros of the file it compiles),
             and a scan for each header's macros through the stage's files
             and its unit tests (tests/, as unifdef writes them for it).
  void       "(void)x;" in a function that uses x (reads it, before or
             after): the cast only silences "unused", and x is used.

    stale_text.py [DIR...]   check each stage directory (default: every stage
                             of solution/STAGES under stages/); exit 1 on any
                             finding, each printed as FILE:LINE: what, and
                             what to do
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))  # harness/instructor/
HARNESS = os.path.dirname(HERE)
ROOT = os.path.dirname(HARNESS)
IDENT = re.compile(r"[A-Za-z_]\w*")
DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)", re.M)
GCC_UNUSED = re.compile(r"^([^:\n]+):(\d+)(?::\d+)?: warning: macro \"(\w+)\" is not used", re.M)
# After a name: it is set there, not read (x = 1, but not x == 1).
ASSIGNED = re.compile(r"\s*=(?!=)")
VOID_CAST = re.compile(r"\(\s*void\s*\)\s*([A-Za-z_]\w*)\s*;")
# The lines that mark an exercise (harness/kit/exercises.py): no contracts.
MARKER = re.compile(r"/\* =+ .* =+ \*/")
# A line that ends the declarations a comment could describe.
ENDERS = re.compile(r"#\s*(endif|else|elif)\b|}")


class Fatal(Exception):
    """The check cannot be made."""


class Finding:
    def __init__(self, path, line, what, fix):
        self.path, self.line, self.what, self.fix = path, line, what, fix

    def __str__(self):
        return f"{self.path}:{self.line}: {self.what}: {self.fix}"


def blank_out(text):
    """text with every comment and string or character literal replaced by
    spaces (newlines kept, so offsets and lines stay), and the comments, as
    (start, end) offsets."""
    out, comments, i, n = list(text), [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
        elif c in "\"'":
            end = i + 1
            while end < n and text[end] != c and text[end] != "\n":
                end += 2 if text[end] == "\\" else 1
            end = min(end + 1, n)
        else:
            i += 1
            continue
        if c == "/":
            comments.append((i, end))
            lo = i
        else:
            lo = i + 1              # keep the quotes: "a""b" stays two tokens
            end -= 1
        for k in range(lo, end):
            if out[k] != "\n":
                out[k] = " "
        i = end + (0 if c == "/" else 1)
    return "".join(out), comments


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def source_line(name, text):
    """ (in solution/name:LINE)": where the line text sits in the single
    source, as far as it can tell; or "" if solution/ has no such file."""
    try:
        with open(os.path.join(ROOT, "solution", name)) as f:
            lines = f.read().split("\n")
    except OSError:
        return ""
    hits = [str(k) for k, line in enumerate(lines, 1) if line.strip() == text.strip()]
    if 1 <= len(hits) <= 5:
        return f" (in solution/{name}, line {' or '.join(hits)})"
    return f" (in solution/{name})"


# -- contracts ---------------------------------------------------------------

def standalone(text, code, comments):
    """The comments that stand on lines of their own: nothing but space
    before them on their first line, and nothing after them on their last."""
    for start, end in comments:
        head = code[code.rfind("\n", 0, start) + 1:start]
        tail_end = code.find("\n", end)
        tail = code[end:len(code) if tail_end < 0 else tail_end]
        if not head.strip() and not tail.strip():
            yield start, end


def next_code(text, comments, end):
    """The first thing in text after offset end, past white space: ("comment",
    offset), ("code", offset) or ("eof", len)."""
    i = len(text) - len(text[end:].lstrip())
    if i == len(text):
        return "eof", i
    return ("comment" if any(s == i for s, _ in comments) else "code"), i


def skip_markers(text, markers, end):
    """end, moved past the exercise markers that follow it."""
    moved = True
    while moved:
        moved = False
        i = end
        while i < len(text) and text[i] in " \t\n":
            i += 1
        for s, e in markers:
            if s == i:
                end, moved = e, True
    return end


def check_contracts(path, name, text):
    code, comments = blank_out(text)
    found = []
    bodies = list(function_bodies(code))
    markers = [(s, e) for s, e in comments if MARKER.match(text, s)]
    comments = [(s, e) for s, e in comments if (s, e) not in markers]
    spots = [(s, e) for s, e in standalone(text, code, comments)
             if not any(lo < s < hi for lo, hi in bodies)]
    for start, end in spots:
        body = text[start:end]
        if not code[:start].strip():
            continue                # the file's own opening comment
        kind, at = next_code(text, comments, skip_markers(text, markers, end))
        first = text[start:text.find("\n", start) if "\n" in text[start:] else end]
        src = source_line(name, first)
        ender = ENDERS.match(code, at)
        if kind == "eof":
            what = "a comment at the end of the file"
        elif kind == "comment":
            what = f"a comment above another comment (line {line_of(text, at)})"
        elif ender:
            what = "a comment above " + ("a closing brace" if ender.group(0) == "}"
                                         else "#" + ender.group(1))
        if kind != "code" or ender:
            found.append(Finding(path, line_of(text, start), what + ", not above what it describes",
                                 f"this stage lacks the declaration it describes: put the comment "
                                 f"inside the STAGE block of that declaration, or drop it{src}"))
        if re.match(r"/\*+\s*As above", body, re.I) and not prototype_above(code, start):
            found.append(Finding(path, line_of(text, start),
                                 'an "As above" comment with no function prototype above it',
                                 f"this stage lacks the prototype it refers to: say what it means "
                                 f"in full, or keep it with that prototype's STAGE block{src}"))
    return found


def prototype_above(code, offset):
    """Whether the last thing before offset is a function's prototype."""
    before = code[:offset].rstrip()
    if not before.endswith(");"):
        return False
    stmt = before[before.rfind(";", 0, len(before) - 1) + 1:]
    stmt = stmt[max(stmt.rfind("}"), stmt.rfind("#")) + 1:]
    return "(" in stmt and "{" not in stmt


# -- (void)x where x is used ---------------------------------------------------

def function_bodies(code):
    """(start, end) of each function body: a brace at depth 0 after ')'."""
    depth, i = 0, 0
    while i < len(code):
        c = code[i]
        if c == "{":
            if depth == 0 and code[:i].rstrip().endswith(")"):
                end, d = i, 0
                while end < len(code):
                    d += {"{": 1, "}": -1}.get(code[end], 0)
                    end += 1
                    if d == 0:
                        break
                yield i, end
                i = end
                continue
            depth += 1
        elif c == "}":
            depth -= 1
        i += 1


def uses(code, start, end, name):
    """Offsets in code[start:end] where name is used, not as a member."""
    for m in re.finditer(r"\b" + re.escape(name) + r"\b", code[start:end]):
        if not code[start:start + m.start()].rstrip().endswith((".", "->")):
            yield start + m.start()


def assigned(code, at, name):
    """Whether name, at offset at in code, is set there rather than read:
    "x = 1" or "int x = 1", but not "x == 1" or "*x = 1"."""
    return bool(ASSIGNED.match(code, at + len(name))) and not code[:at].rstrip().endswith("*")


def check_voids(path, name, text):
    code, _ = blank_out(text)
    found = []
    for start, end in function_bodies(code):
        for m in VOID_CAST.finditer(code, start, end):
            var = m.group(1)
            reads = [at for at in uses(code, start, end, var)
                     if not m.start() <= at < m.end() and not assigned(code, at, var)]
            if reads:
                src = source_line(name, text[text.rfind("\n", 0, m.start()) + 1:
                                              text.find("\n", m.end())])
                found.append(Finding(path, line_of(text, m.start()),
                                     f"(void){var}; in a function that uses {var} "
                                     f"(line {line_of(text, reads[0])})",
                                     f"drop the cast, which only silences \"unused\", "
                                     f"or keep it only in the stub that does not use {var}{src}"))
    return found


# -- macros no file of the stage uses -----------------------------------------

def stage_of(d):
    with open(os.path.join(d, "Makefile")) as f:
        m = re.search(r"^STAGE\s*=\s*(\d+)", f.read(), re.M)
    if not m:
        raise Fatal(f"{d}/Makefile sets no STAGE")
    return int(m.group(1))


def unit_tests(d, stage):
    """The text of the unit tests the stage's build compiles (its modules'
    tests/test_MODULE.c and the runner), as unifdef writes them for it."""
    modules = [f[:-2] for f in os.listdir(d) if f.endswith(".c")]
    names = ["unit.c", "unit.h", "inject.c", "inject.h"] + [f"test_{m}.c" for m in modules]
    texts = []
    for n in names:
        p = os.path.join(ROOT, "tests", n)
        if os.path.exists(p):
            r = subprocess.run(["unifdef", "-B", f"-DSTAGE={stage}", p],
                               capture_output=True, text=True)
            if r.returncode > 1:
                raise Fatal(f"unifdef failed on {p}: {r.stderr}")
            texts.append(r.stdout)
    return texts


def gcc_unused_macros(d, stage, files, show):
    """gcc -Wunused-macros over each .c file of the stage."""
    found = []
    for f in files:
        if not f.endswith(".c"):
            continue
        r = subprocess.run(["gcc", "-std=c11", "-fsyntax-only", "-Wunused-macros",
                            f"-DSTAGE={stage}", "-D_POSIX_C_SOURCE=200809L", "-I.",
                            "-I" + os.path.join(ROOT, "tests"), f],
                           cwd=d, capture_output=True, text=True)
        for m in GCC_UNUSED.finditer(r.stderr):
            found.append((m.group(1), int(m.group(2)), m.group(3)))
        if r.returncode:
            raise Fatal(f"gcc cannot compile {show}/{f}:\n{r.stderr}")
    return found


def asked_for(d, files):
    """The names the stage's TODOs tell a student to use: a macro there is
    for the exercise."""
    names = set()
    for f in files:
        with open(os.path.join(d, f)) as fh:
            text = fh.read()
        for start, end in blank_out(text)[1]:
            if "TODO" in text[start:end]:
                names |= set(IDENT.findall(text[start:end]))
    return names


def header_unused_macros(d, files, tests):
    """Each header's macros that nothing of the stage uses: no code line of
    its files or unit tests names them, nor any macro that is used."""
    defs, bodies, plain = {}, {}, []
    for f in files:
        with open(os.path.join(d, f)) as fh:
            lines = blank_out(fh.read())[0].split("\n")
        name = None                 # the macro whose #define goes on
        for k, line in enumerate(lines, 1):
            m = DEFINE.match(line)
            if m:
                name = m.group(1)
                if f.endswith(".h"):
                    defs.setdefault(name, (f, k))
                line = line[m.end():]
            if name:
                bodies.setdefault(name, []).append(line)
            else:
                plain.append(line)
            if not line.endswith("\\"):
                name = None
    plain += [blank_out(t)[0] for t in tests]
    used = set(IDENT.findall("\n".join(plain))) | asked_for(d, files)
    grow = True
    while grow:
        grow = False
        for name, texts in bodies.items():
            if name in used:
                new = set(IDENT.findall(" ".join(texts))) - used
                if new:
                    used |= new
                    grow = True
    return [(f, k, name) for name, (f, k) in defs.items() if name not in used]


def check_macros(d, show):
    stage = stage_of(d)
    files = sorted(f for f in os.listdir(d) if f.endswith((".c", ".h")))
    found = []
    unused = gcc_unused_macros(d, stage, files, show)
    unused = [u for u in unused if u[2] not in asked_for(d, files)]
    unused += header_unused_macros(d, files, unit_tests(d, stage))
    for f, k, name in sorted(set(unused)):
        with open(os.path.join(d, f)) as fh:
            line = fh.read().split("\n")[k - 1]
        found.append(Finding(f"{show}/{f}", k, f"macro {name} is defined but stage {stage} does not use it",
                             f"define it only in the stages that use it (under their STAGE "
                             f"condition), or drop it{source_line(f, line)}"))
    return found


def check_dir(d, show=None):
    show = show or os.path.relpath(d)
    found = []
    for f in sorted(os.listdir(d)):
        if f.endswith((".c", ".h")):
            with open(os.path.join(d, f)) as fh:
                text = fh.read()
            found += check_contracts(f"{show}/{f}", f, text)
            found += check_voids(f"{show}/{f}", f, text)
    return found + check_macros(d, show)


def stage_dirs():
    with open(os.path.join(ROOT, "solution", "STAGES")) as f:
        rows = [line.split() for line in f if line.strip() and not line.startswith("#")]
    return [os.path.join(ROOT, "stages", row[1]) for row in rows]


def main(argv):
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return 0
    dirs = argv or stage_dirs()
    for d in dirs:
        if not os.path.exists(os.path.join(d, "Makefile")):
            print(f"stale_text: {d} is not a stage directory (it has no Makefile)", file=sys.stderr)
            return 2
    found = []
    try:
        for d in dirs:
            found += check_dir(d)
    except Fatal as e:
        print(f"stale_text: {e}", file=sys.stderr)
        return 2
    for f in found:
        print(f)
    if found:
        print(f"stale_text: {len(found)} finding(s) of stale text in the handouts (above); "
              "fix them in solution/ and run make stages", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
