#!/usr/bin/env python3
"""Cut what a course platform needs from the kit (instructor-only: this file
never ships to students).

usage: package.py handout --stage N OUT.tar.gz
       package.py gradescope --stage N OUT.zip
       package.py autolab --stage N OUTDIR      (autograde-Makefile, autograde.tar)

Everything is cut for one stage N and holds nothing of a later one: by the
stub rule, stage N+1's handout holds stage N's answers. So only stage N's
directory of stages/ goes, the unit tests of its modules, the black-box
and hidden tests of stages 1..N, and the rubric's entries for them
(stage_files, stage_rubric).

The handout holds that much of stages/, tests/ and the harness, without
harness/hidden/ (the grader's hidden tests) or harness/instructor/ (the
instructor's); labs.md up to stage N; the student docs; a README and a
GitHub Classroom workflow. The rubric's hidden tests keep their points but
lose their names. The Gradescope zip and Autolab's autograde.tar hold the
grading kit for stage N: the same, with the stage's hidden tests (never
harness/instructor/).
"""
import argparse
import io
import os
import re
import subprocess
import sys
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))  # harness/instructor/
HARNESS = os.path.dirname(HERE)
ROOT = os.path.dirname(HARNESS)
PLATFORMS = os.path.join(HERE, "platforms")
sys.path.insert(0, HARNESS)
from kit import rubric, submission  # noqa: E402

# The Debian packages grading a stage needs (a subset of the README's list).
GRADING_PACKAGES = ("build-essential libcunit1-dev python3-pytest python3-pytest-timeout "
                    "curl netcat-openbsd goaccess openssl bubblewrap")
HANDOUT_INCLUDE = ("stages/", "tests/", "harness/", "labs.md", "docs/usage.md", "docs/log.md")
# The harness's directories decide who gets what: harness/ and harness/kit/
# are the students' (and the grader's); harness/hidden/ is the grader's alone
# (its hidden tests); harness/instructor/ is the instructor's alone (the
# self-tests, mutants, tools, the reference's own tests, this file).
INSTRUCTOR_ONLY = "harness/instructor/"
GRADER_ONLY = "harness/hidden/"
HANDOUT_EXCLUDE = (GRADER_ONLY, INSTRUCTOR_ONLY)
GRADING_INCLUDE = ("stages/", "tests/", "harness/")
GRADING_EXCLUDE = (INSTRUCTOR_ONLY,)
BUILT = re.compile(r"(^|/)(build|__pycache__|\.pytest_cache)/|(^|/)log\.txt$")
# Files of one stage, and the stage they belong to: (pattern, its stage), or
# for a unit test, the module it tests (its stage: the first that has it).
STAGE_DIR = re.compile(r"^stages/(\d+)-[^/]+/")
STAGE_TEST = re.compile(r"^harness/(?:hidden/)?test_stage(\d+)_\w+\.py$")
UNIT_TEST = re.compile(r"^tests/test_(\w+)\.c$")
REFERENCE_STAGE = 9         # the reference's own unit tests, and its rubric entries


def kit_files():
    """The kit's files (tracked or new, not ignored), relative to ROOT."""
    r = subprocess.run(["git", "-C", ROOT, "ls-files", "--cached", "--others",
                        "--exclude-standard"], capture_output=True, text=True, check=True)
    return sorted(f for f in r.stdout.splitlines()
                  if os.path.isfile(os.path.join(ROOT, f)) and not BUILT.search(f))


def select(include, exclude):
    """The kit's files under include and not under exclude."""
    return [f for f in kit_files()
            if f.startswith(include) and not f.startswith(exclude)]


def stages():
    """{stage: its modules} from solution/STAGES (in a kit without solution/,
    from stages/: each directory's .c files)."""
    found = {}
    path = os.path.join(ROOT, "solution", "STAGES")
    if os.path.exists(path):
        with open(path) as f:
            for fields in (line.split() for line in f if not line.startswith("#")):
                if fields:
                    found[int(fields[0])] = set(fields[3:])
        return found
    for d in os.listdir(os.path.join(ROOT, "stages")):
        n = d.split("-")[0]
        if n.isdigit():
            found[int(n)] = {f[:-2] for f in os.listdir(os.path.join(ROOT, "stages", d))
                             if f.endswith(".c")}
    return found


def belongs_to(f, modules):
    """The stage file f of the kit belongs to, or 0 if to every stage.
    modules: {stage: its modules}."""
    for pattern in (STAGE_DIR, STAGE_TEST):
        if (m := pattern.match(f)):
            return int(m.group(1))
    if (m := UNIT_TEST.match(f)):
        return min((n for n, mods in modules.items() if m.group(1) in mods),
                   default=REFERENCE_STAGE)
    return 0


def stage_files(stage, include, exclude):
    """The kit's files under include and not under exclude that a stage-N
    package holds: stage N's directory (not an earlier one's, which a
    student does not need, nor a later one's, which holds stage N's
    answers), and the tests of stages 1..N."""
    modules = stages()
    keep = []
    for f in select(include, exclude):
        owner = belongs_to(f, modules)
        if owner == stage or (owner < stage and not STAGE_DIR.match(f)):
            keep.append(f)
    return keep


def stage_rubric(stage, text):
    """The lines of rubric text for stages 1..N: comments, and the entries of
    those stages."""
    keep = []
    for line in text.splitlines(keepends=True):
        fields = line.split()
        if line.startswith("#") or len(fields) < 2 or not fields[1].isdigit() or \
                int(fields[1]) <= stage:
            keep.append(line)
    return "".join(keep)


def stage_labs(stage):
    """labs.md up to stage N's section: the sections of later stages go."""
    with open(os.path.join(ROOT, "labs.md")) as f:
        text = f.read()
    m = re.search(rf"^## Stage {stage + 1}:", text, re.M)
    return text if m is None else text[:m.start()]


def template(name, stage=None):
    """A file of harness/instructor/platforms/ with its @STAGE@ and @PACKAGES@ filled in."""
    with open(os.path.join(PLATFORMS, name)) as f:
        text = f.read()
    text = text.replace("@PACKAGES@", GRADING_PACKAGES).replace("@STAGE@", str(stage))
    if stage is not None:
        text = text.replace("@STAGEDIR@", os.path.basename(submission.stage_dir(stage)))
    return text


def handout_rubric(stage):
    """rubric.txt for stages 1..N, with each hidden test's id and name
    replaced: its points stay (so each stage still totals 100), what it
    tests is not told."""
    lines, n = [], 0
    with open(rubric.PATH) as f:
        for line in stage_rubric(stage, f.read()).splitlines(keepends=True):
            if rubric.is_hidden_test(line.split(None, 1)[0] if line.strip() else ""):
                n += 1
                _, stage, points, visibility, _ = line.split(None, 4)
                line = (f"py:hidden/test_hidden.py::test_{n} {stage} {points} {visibility} "
                        f"a test your instructor runs\n")
            lines.append(line)
    return "".join(lines)


def add_bytes(tar, name, data, mode=0o644):
    """Add a file to a tar archive from bytes."""
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def handout(stage, out):
    """Stage N's student tarball, with its files under proxylab/."""
    extra = {"README.md": template("handout/README.md", stage), "STAGE": f"{stage}\n",
             ".github/workflows/classroom.yml": template("handout/classroom.yml"),
             "harness/rubric.txt": handout_rubric(stage), "labs.md": stage_labs(stage)}
    with tarfile.open(out, "w:gz") as tar:
        for f in stage_files(stage, HANDOUT_INCLUDE, HANDOUT_EXCLUDE):
            if f not in extra:
                tar.add(os.path.join(ROOT, f), f"proxylab/{f}")
        for name, text in extra.items():
            add_bytes(tar, f"proxylab/{name}", text.encode())


def grading_kit(stage):
    """{path: bytes} of stage N's grading kit."""
    kit = {}
    for f in stage_files(stage, GRADING_INCLUDE, GRADING_EXCLUDE):
        with open(os.path.join(ROOT, f), "rb") as src:
            kit[f] = src.read()
    kit["harness/rubric.txt"] = stage_rubric(stage, kit["harness/rubric.txt"].decode()).encode()
    return kit


def gradescope(stage, out):
    """The Gradescope autograder zip: setup.sh and run_autograder at its top."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for f, data in grading_kit(stage).items():
            info = zipfile.ZipInfo.from_file(os.path.join(ROOT, f), f)
            z.writestr(info, data)
        for name in ("setup.sh", "run_autograder"):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            z.writestr(info, template(name, stage))


def autolab(stage, outdir):
    """Autolab's autograde-Makefile and autograde.tar (the kit under proxylab/)."""
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "autograde-Makefile"), "w") as f:
        f.write(template("autograde-Makefile", stage))
    with tarfile.open(os.path.join(outdir, "autograde.tar"), "w") as tar:
        for f, data in grading_kit(stage).items():
            add_bytes(tar, f"proxylab/{f}", data, os.stat(os.path.join(ROOT, f)).st_mode & 0o777)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("handout", "gradescope", "autolab"))
    p.add_argument("out")
    p.add_argument("--stage", type=int, required=True,
                   help="the stage: what is cut holds nothing of a later one")
    args = p.parse_args(argv)
    if args.stage not in stages():
        p.error(f"--stage {args.stage}: the stages are {sorted(stages())}")
    if args.what == "handout":
        handout(args.stage, args.out)
    elif args.what == "gradescope":
        gradescope(args.stage, args.out)
    else:
        autolab(args.stage, args.out)
    print(f"{args.what}: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
