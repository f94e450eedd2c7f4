"""Self-tests of the kit's own plumbing: the rubric parser, and that the
package lists in README.md, .ci/run and deps.sh agree."""
import os
import re

import pytest

from kit import rubric

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(*path):
    with open(os.path.join(ROOT, *path)) as f:
        return f.read()


def test_readme_and_ci_install_the_same_packages():
    readme = re.search(r"apt-get install -y (.*)", read("README.md")).group(1).split()
    ci = re.search(r'PACKAGES="(.*)"', read(".ci", "run")).group(1).split()
    assert sorted(readme) == sorted(ci)


def test_deps_names_only_packages_the_readme_installs():
    readme = set(re.search(r"apt-get install -y (.*)", read("README.md")).group(1).split())
    named = set(re.findall(r"^\s*need \S+ (\S+)", read("harness", "deps.sh"), re.M))
    assert named - {"python3"} <= readme


def write(tmp_path, text):
    path = tmp_path / "rubric.txt"
    path.write_text(text)
    return str(path)


def test_rubric_loads_and_totals(tmp_path):
    entries = rubric.load(write(tmp_path, "# comment\n"
                                "c:a/b 1 60 visible A test name\n"
                                "py:t.py::x 1 40 hidden Another one\n"))
    assert entries["c:a/b"].name == "A test name"
    assert entries["py:t.py::x"].visibility == "hidden"
    assert rubric.stage_totals(entries.values()) == {1: 100}


@pytest.mark.parametrize("text, complaint", [
    ("c:a/b 1 60 visible A\n", "add up to 60"),
    ("c:a/b 1 100 visible A\nc:a/b 2 100 visible A\n", "listed twice"),
    ("x:a/b 1 100 visible A\n", "must start with"),
    ("c:a/b 1 100 sometimes A\n", "visibility"),
    ("c:a/b 1 lots visible A\n", "not a number"),
    ("c:a/b 1 100\n", "expected"),
])
def test_rubric_refuses_bad_files(tmp_path, text, complaint):
    with pytest.raises(rubric.RubricError, match=complaint):
        rubric.load(write(tmp_path, text))


def test_the_kits_rubric_is_valid():
    entries = rubric.load()
    assert all(total == rubric.STAGE_TOTAL for total in rubric.stage_totals(entries.values()).values())
