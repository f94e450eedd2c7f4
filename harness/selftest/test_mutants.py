"""Self-tests of the mutants (harness/mutants/): each header is whole and
names tests the rubric has, and each patch applies to solution/ as it is now.
Whether each mutant is caught is `make mutants`'s job (a minute)."""
import glob
import os
import subprocess

import pytest

import mutants
from kit import rubric

PATCHES = sorted(glob.glob(os.path.join(mutants.MUTANTS, "*.patch")))


def test_at_least_twelve_mutants():
    assert len(PATCHES) >= 12, f"only {len(PATCHES)} mutants in {mutants.MUTANTS}"


@pytest.mark.parametrize("path", PATCHES, ids=os.path.basename)
def test_header_and_patch(path):
    m = mutants.load(path, rubric.load())          # exits (SystemExit) if the header is broken
    assert m["bug"] and m["catches"] and m.get("stage", "").isdigit(), m
    with open(path) as f:
        r = subprocess.run(["patch", "-p1", "--dry-run", "--batch", "--forward", "--fuzz=0",
                            "-d", mutants.ROOT], stdin=f, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    assert r.returncode == 0, f"{os.path.basename(path)} no longer applies to solution/:\n{r.stdout}"
