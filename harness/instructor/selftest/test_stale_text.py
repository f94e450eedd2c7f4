"""harness/instructor/stale_text.py, the stage check for stale text in a handout (run
by `make check-stages`): fed small stages with one stale thing each, it
names the file, the line and what is stale; fed the same stages made right,
it finds nothing."""
import os
import subprocess
import sys
import textwrap

import pytest

from graders import INSTRUCTOR

import stale_text

STALE_TEXT = os.path.join(INSTRUCTOR, "stale_text.py")


def src(text):
    return textwrap.dedent(text).lstrip("\n")


def stage(tmp_path, files, n=3):
    """A stage directory: a Makefile that says its stage, and files."""
    d = tmp_path / f"{n}-stage"
    d.mkdir()
    (d / "Makefile").write_text(f"STAGE    = {n}\nPROGRAMS = main\n")
    for name, text in files.items():
        (d / name).write_text(src(text))
    return str(d)


def found(tmp_path, files):
    """What stale_text finds in a stage of these files, as (file, line, what)."""
    return [(os.path.basename(f.path), f.line, f.what)
            for f in stale_text.check_dir(stage(tmp_path, files), "stage")]


HEADER = """
    /* mod: a module. */
    #ifndef MOD_H
    #define MOD_H

    /* Return one more than x. */
    int mod_next(int x);
    {between}
    #endif
"""
MAIN = """
    #include "mod.h"

    int mod_next(int x)
    {
        return x + 1;
    }

    int main(void)
    {
        return mod_next(-1);
    }
"""


@pytest.mark.parametrize("between, line, what", [
    ("/* Return x, twice. */\n\n/* Return x, three times. */\nint mod_thrice(int x);",
     7, "a comment above another comment (line 9)"),
    ("#if 1\n/* Return x, twice. */\n#endif", 8, "a comment above #endif"),
    ("#ifdef X\n/* Return x, twice. */\n#else\nint mod_thrice(int x);\n#endif",
     8, "a comment above #else"),
    ("struct s {\n    int a;\n    /* the field that went */\n};", 9,
     "a comment above a closing brace"),
])
def test_a_comment_above_no_declaration(tmp_path, between, line, what):
    """A contract whose declaration the stage lacks: above another comment,
    an #endif or #else, or the end of a struct."""
    assert found(tmp_path, {"mod.h": HEADER.replace("{between}", between), "main.c": MAIN}) == [
        ("mod.h", line, what + ", not above what it describes")]


def test_a_comment_at_the_end_of_a_file(tmp_path):
    text = src(MAIN) + "\n/* Return x, twice. */\n"
    assert found(tmp_path, {"mod.h": HEADER.replace("{between}", ""), "main.c": text}) == [
        ("main.c", 13, "a comment at the end of the file, not above what it describes")]


def test_as_above_with_no_prototype_above(tmp_path):
    """stages/5-log/forward.h had it: "As above" under a struct, the
    prototype it meant left out of the stage."""
    between = "struct ctx {\n    int x;\n};\n\n/* As above, with ctx->x for x. */\nint mod_ctx(struct ctx *ctx);"
    assert found(tmp_path, {"mod.h": HEADER.replace("{between}", between), "main.c": MAIN}) == [
        ("mod.h", 11, 'an "As above" comment with no function prototype above it')]


def test_contracts_that_describe_what_follows(tmp_path):
    """The file's opening comment, contracts above their declarations,
    "As above" under a prototype, exercise markers, and comments inside a
    function: nothing is stale."""
    between = src("""
        /* As above, but twice. */
        int mod_twice(int x);

        /* ==== stage 3 exercise: helpers 1 ==== */
        /* ==== end of stage 3 exercise: helpers 1 ==== */

        /* What a ctx holds. */
        struct ctx {
            int x;              /* a field */
            /* another field */
            int y;
        };
    """)
    main = src(MAIN).replace("return x + 1;", "/* TODO(stage 3): return x + 1. */\n"
                             "    return x + 1;\n    /* that was all */")
    assert found(tmp_path, {"mod.h": HEADER.replace("{between}", between), "main.c": main}) == []


def test_void_cast_where_x_is_used(tmp_path):
    """(void)x; in a function that uses x, after the cast or before it: stale.
    Not one whose function leaves x alone, only sets it, or has x only as a
    member's name."""
    main = src("""
        struct s { int x; };
        int f(int x);
        int g(int x);
        int h(struct s *p, int x);
        int k(int *p);
        int main(void);

        int f(int x)
        {
            (void)x;
            return x + 1;
        }

        int g(int x)
        {
            (void)x;
            return 0;
        }

        int h(struct s *p, int x)
        {
            int set = 0;

            (void)set;
            (void)x;
            return p->x + p[0].x;
        }

        int k(int *p)
        {
            *p = 0;
            (void)p;
            return 0;
        }

        int main(void)
        {
            struct s v = {0};
            return f(0) + g(0) + h(&v, 0) + k(&v.x);
        }
    """)
    assert found(tmp_path, {"main.c": main}) == [
        ("main.c", 10, "(void)x; in a function that uses x (line 11)"),
        ("main.c", 32, "(void)p; in a function that uses p (line 31)")]


def test_macros_the_stage_does_not_use(tmp_path):
    """gcc -Wunused-macros over each .c file, and a scan for the headers'
    macros: a macro counts as used if code, a used macro or a TODO names it."""
    header = HEADER.replace("{between}", src("""
        #define MOD_UNUSED 1
        #define MOD_USED 2
        #define MOD_INNER 3
        #define MOD_OUTER (MOD_INNER + \\
                           1)
        #define MOD_IN_UNUSED 4
        #define MOD_UNUSED_OUTER (MOD_IN_UNUSED)
        #define MOD_ASKED 5
    """))
    main = src("""
        #include "mod.h"

        #define MAIN_UNUSED 1
        #define MAIN_USED 2

        int mod_next(int x)
        {
            /* TODO(stage 3): return x + MOD_ASKED. */
            return x + MAIN_USED + MOD_USED + MOD_OUTER;
        }

        int main(void)
        {
            return mod_next(-1);
        }
    """)
    assert sorted(found(tmp_path, {"mod.h": header, "main.c": main})) == [
        ("main.c", 3, "macro MAIN_UNUSED is defined but stage 3 does not use it"),
        ("mod.h", 7, "macro MOD_UNUSED is defined but stage 3 does not use it"),
        ("mod.h", 12, "macro MOD_IN_UNUSED is defined but stage 3 does not use it"),
        ("mod.h", 13, "macro MOD_UNUSED_OUTER is defined but stage 3 does not use it"),
    ]


def test_the_command_says_where_and_what_to_do(tmp_path):
    """Run as make check-stages runs it: exit 1, and each finding as
    FILE:LINE: what is stale: what to do, naming the line in solution/."""
    header = HEADER.replace("{between}", "")
    bad = stage(tmp_path, {"mod.h": header,
                           "main.c": src(MAIN).replace("#include", "#define STALE 1\n#include")})
    r = subprocess.run([sys.executable, STALE_TEXT, bad], capture_output=True, text=True)
    assert r.returncode == 1, r
    line = r.stdout.splitlines()[0]
    assert line.startswith(os.path.relpath(bad) + "/main.c:1: macro STALE is defined but stage 3 "
                           "does not use it: define it only in the stages that use it"), line
    assert line.endswith("or drop it"), line
    assert "1 finding(s)" in r.stderr
    good = stage(tmp_path, {"mod.h": header, "main.c": MAIN}, n=4)
    r = subprocess.run([sys.executable, STALE_TEXT, good], capture_output=True, text=True)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_a_stage_that_does_not_compile_is_an_error(tmp_path):
    """Exit 2, not 1: the check could not be made."""
    bad = stage(tmp_path, {"main.c": "#include \"missing.h\"\n"})
    r = subprocess.run([sys.executable, STALE_TEXT, bad], capture_output=True, text=True)
    assert r.returncode == 2 and "cannot compile" in r.stderr, r


def test_a_finding_names_its_line_in_solution():
    """A handout's line is found in solution/, the single source to fix."""
    with open(os.path.join(stale_text.ROOT, "solution", "forward.h")) as f:
        guard = f.read().split("\n").index("#ifndef FORWARD_H") + 1
    assert stale_text.source_line("forward.h", "#ifndef FORWARD_H") == f" (in solution/forward.h, line {guard})"
    assert stale_text.source_line("forward.h", "") == " (in solution/forward.h)"  # too many
    assert stale_text.source_line("nosuch.c", "x") == ""
