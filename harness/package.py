#!/usr/bin/env python3
"""Cut what a course platform needs from the kit (instructor-only: this file
never ships to students).

usage: package.py handout OUT.tar.gz
       package.py gradescope --stage N OUT.zip
       package.py autolab --stage N OUTDIR      (autograde-Makefile, autograde.tar)

The handout holds stages/, tests/, the harness without its grader-only parts
(HANDOUT_EXCLUDE) or hidden tests, labs.md, the student docs, a README and a
GitHub Classroom workflow; the rubric's hidden tests keep their points but
lose their names. The Gradescope zip and Autolab's autograde.tar hold the
grading kit: stages/, tests/ and the harness with its hidden tests.
"""
import argparse
import io
import os
import re
import subprocess
import sys
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PLATFORMS = os.path.join(HERE, "platforms")
sys.path.insert(0, HERE)
from kit import rubric  # noqa: E402

# The Debian packages grading a stage needs (a subset of the README's list).
GRADING_PACKAGES = ("build-essential libcunit1-dev python3-pytest python3-pytest-timeout "
                    "curl netcat-openbsd goaccess openssl")
HANDOUT_INCLUDE = ("stages/", "tests/", "harness/", "labs.md", "docs/usage.md", "docs/log.md")
HANDOUT_EXCLUDE = ("harness/hidden/", "harness/hostile/", "harness/mutants/",
                   "harness/mutants.py", "harness/selftest/", "harness/platforms/", "harness/package.py",
                   "harness/teeth.py", "harness/mkstages", "harness/labs_points.py")
GRADING_INCLUDE = ("stages/", "tests/", "harness/")
GRADING_EXCLUDE = ("harness/hostile/", "harness/mutants/", "harness/selftest/",
                   "harness/platforms/", "harness/package.py")
BUILT = re.compile(r"(^|/)(build|__pycache__|\.pytest_cache)/|(^|/)log\.txt$")


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


def template(name, stage=None):
    """A file of harness/platforms/ with its @STAGE@ and @PACKAGES@ filled in."""
    with open(os.path.join(PLATFORMS, name)) as f:
        text = f.read()
    return text.replace("@PACKAGES@", GRADING_PACKAGES).replace("@STAGE@", str(stage))


def handout_rubric():
    """rubric.txt with each hidden test's id and name replaced: its points
    stay (so each stage still totals 100), what it tests is not told."""
    lines, n = [], 0
    with open(rubric.PATH) as f:
        for line in f:
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


def handout(out):
    """The student tarball, with its files under proxylab/."""
    extra = {"README.md": template("handout/README.md"), "STAGE": "1\n",
             ".github/workflows/classroom.yml": template("handout/classroom.yml"),
             "harness/rubric.txt": handout_rubric()}
    with tarfile.open(out, "w:gz") as tar:
        for f in select(HANDOUT_INCLUDE, HANDOUT_EXCLUDE):
            if f not in extra:
                tar.add(os.path.join(ROOT, f), f"proxylab/{f}")
        for name, text in extra.items():
            add_bytes(tar, f"proxylab/{name}", text.encode())


def gradescope(stage, out):
    """The Gradescope autograder zip: setup.sh and run_autograder at its top."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for f in select(GRADING_INCLUDE, GRADING_EXCLUDE):
            info = zipfile.ZipInfo.from_file(os.path.join(ROOT, f), f)
            with open(os.path.join(ROOT, f), "rb") as src:
                z.writestr(info, src.read())
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
        for f in select(GRADING_INCLUDE, GRADING_EXCLUDE):
            tar.add(os.path.join(ROOT, f), f"proxylab/{f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("handout", "gradescope", "autolab"))
    p.add_argument("out")
    p.add_argument("--stage", type=int)
    args = p.parse_args(argv)
    if args.what != "handout" and args.stage is None:
        p.error(f"{args.what} needs --stage N")
    if args.what == "handout":
        handout(args.out)
    elif args.what == "gradescope":
        gradescope(args.stage, args.out)
    else:
        autolab(args.stage, args.out)
    print(f"{args.what}: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
