"""A submission, and the pristine stage it is graded in.

A student may edit the .c files of their stage: its program's main and the
modules (the stage's line of solution/STAGES, as stages/N-name/ holds them).
Headers and the Makefile are given: the tests compile against the headers,
so they come from the kit, as does everything else. A submission is a
directory, a tar archive (.tar, .tar.gz, .tgz...) or a .zip; the grader takes
from it, by name, only those .c files, wherever they sit in it.
"""
import glob
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile

from kit.grading import HERE, ROOT

FILE_MAX = 1 << 20          # bytes: a larger "source file" is not taken


class SubmissionError(Exception):
    """The submission cannot be read at all."""


def stage_dir(stage, root=ROOT):
    """stages/N-name for stage N."""
    found = glob.glob(os.path.join(root, "stages", f"{stage}-*"))
    if len(found) != 1:
        raise SubmissionError(f"no stage {stage} in {os.path.join(root, 'stages')}")
    return found[0]


def editable(stage):
    """The names of the files a stage-N student hands in."""
    return sorted(f for f in os.listdir(stage_dir(stage)) if f.endswith(".c"))


def programs(stage):
    """The program names of stage N (its Makefile's PROGRAMS)."""
    with open(os.path.join(stage_dir(stage), "Makefile")) as f:
        for line in f:
            if line.startswith("PROGRAMS"):
                return line.split("=", 1)[1].split()
    return []


def _pick(paths, stage_name):
    """The path to take among several of one name: one inside the stage's
    directory if any, else the shallowest."""
    inside = [p for p in paths if stage_name in p.replace("\\", "/").split("/")]
    return min(inside or paths, key=lambda p: (p.count("/"), p))


def _members(path):
    """{relative path: reader()} of the regular files of a submission."""
    if os.path.isdir(path):
        found = {}
        for top, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for f in files:
                full = os.path.join(top, f)
                if os.path.isfile(full) and not os.path.islink(full):
                    found[os.path.relpath(full, path)] = _file_reader(full)
        return found
    if zipfile.is_zipfile(path):
        z = zipfile.ZipFile(path)
        return {i.filename: (lambda i=i: z.read(i) if i.file_size <= FILE_MAX else None)
                for i in z.infolist() if not i.is_dir()}
    try:
        t = tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError) as e:
        raise SubmissionError(f"{path}: not a directory, tar or zip archive ({e})") from None
    return {m.name: (lambda m=m: t.extractfile(m).read() if m.size <= FILE_MAX else None)
            for m in t.getmembers() if m.isreg()}


def _file_reader(path):
    def read():
        """The file's bytes, or None if it is too large to be a source file."""
        if os.path.getsize(path) > FILE_MAX:
            return None
        with open(path, "rb") as f:
            return f.read()
    return read


def take(sub, stage, dest):
    """Copy the stage's editable files from submission sub into dest (the
    pristine stage's copy). Returns the notes worth telling: files missing
    (the starter's stay) or too large."""
    members, notes = _members(sub), []
    stage_name = os.path.basename(stage_dir(stage))
    for name in editable(stage):
        paths = [p for p in members if os.path.basename(p) == name]
        if not paths:
            notes.append(f"{name} is not in the submission: the starter's {name} is used")
            continue
        data = members[_pick(paths, stage_name)]()
        if data is None:
            notes.append(f"{name} is over {FILE_MAX} bytes: the starter's {name} is used")
            continue
        with open(os.path.join(dest, name), "wb") as f:
            f.write(data)
    return notes


def workspace(stage, tmp):
    """A pristine copy of stage N under tmp, beside copies of what its build
    needs (harness/stage.mk, tests/: the sandbox's uid may not reach the kit
    itself); returns its directory."""
    kit = os.path.join(tmp, "kit")
    os.makedirs(os.path.join(kit, "stages"))
    os.makedirs(os.path.join(kit, "harness"))
    shutil.copy(os.path.join(HERE, "stage.mk"), os.path.join(kit, "harness"))
    shutil.copytree(os.path.join(ROOT, "tests"), os.path.join(kit, "tests"))
    src = stage_dir(stage)
    dest = os.path.join(kit, "stages", os.path.basename(src))
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("build", "log.txt", *programs(stage)))
    for top, dirs, files in os.walk(kit):       # the sandbox uid builds and runs all this
        os.chmod(top, 0o755)
        for f in files:
            os.chmod(os.path.join(top, f), 0o644)
    return dest


def answers(stage, dest):
    """Write the reference's answer to stage N (instructor/mkstages --answers: the
    stage's own files, its TODOs solved) into dest; returns dest."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([os.path.join(HERE, "instructor", "mkstages"), "--answers", tmp], check=True)
        src = os.path.join(tmp, os.path.basename(stage_dir(stage)))
        os.makedirs(dest, exist_ok=True)
        for name in editable(stage):
            shutil.copy(os.path.join(src, name), dest)
    return dest
