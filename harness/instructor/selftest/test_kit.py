"""Self-tests of the kit's own plumbing: the rubric parser, and that the
package lists in README.md, .ci/run and deps.sh agree."""
import os
import re

import pytest

from kit import rubric

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


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


def test_connection_reads_each_framing():
    """kit.client.Connection reads responses one at a time by their framing,
    and says how the connection ended."""
    from kit.client import Connection
    from kit.origin import Origin, body_for
    with Origin() as origin, Connection(origin.port) as conn:
        for target in ("/text/10", "/bin/3000?fault=chunked&chunk=7&trailer=X-T:1&chunk_ext=;a",
                       "/text/5?status=304&header=Content-Length:5", "/text/4?interim=103"):
            conn.send(f"GET {target} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
            r = conn.read_response()
            assert r is not None and conn.end is None, conn.why
            if r.status == 103:
                r = conn.read_response()
            assert r.body == (b"" if r.status == 304 else body_for(target))
        assert r.raw.endswith(b"\r\n\r\n" + body_for("/text/4"))
        conn.send(b"HEAD /text/10 HTTP/1.1\r\nHost: a\r\n\r\n")
        assert conn.read_response("HEAD").header("Content-Length") == "10"
        conn.send(b"GET /text/700?fault=close-delimited HTTP/1.1\r\nHost: a\r\n\r\n")
        r = conn.read_response()
        assert r.body == body_for("/text/700") and conn.end == "closed"
    with Origin() as origin, Connection(origin.port) as conn:
        conn.send(b"GET /bin/100?fault=close-mid-body HTTP/1.1\r\nHost: a\r\n\r\n")
        assert conn.read_response() is None and conn.end == "closed"
        assert "Content-Length" in conn.why and conn.received.endswith(body_for("/bin/100")[:50])


def test_a_crashed_unit_test_shows_the_sanitizers_report():
    from kit import grading
    text = ("PASS     rio/read_table\n"
            "=================================================================\n"
            "==7==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x6020\n"
            "    #0 0x55 in rio_writen rio.c:11\n"
            "CRASH    rio/writen_peer_gone (exited with status 1)\n")
    verdicts = "PASS     rio/read_table\nCRASH    rio/writen_peer_gone\n"
    results = grading.parse_unit(verdicts, text)
    crashed = results["c:rio/writen_peer_gone"]
    assert crashed["outcome"] == "failed"
    assert crashed["reason"] == ("crash: exited with status 1: "
                                 "ERROR: AddressSanitizer: heap-buffer-overflow on address 0x6020")
    assert "in rio_writen rio.c:11" in crashed["output"]
    assert results["c:rio/read_table"] == {"outcome": "passed", "reason": "", "output": ""}


def test_a_table_scored_by_row_earns_its_share():
    from kit import grading
    verdicts = ("FAIL http/errors rows=11/12\nFAIL http/every_split\n"
                "FAIL http/limits rows=13/12\nPASS http/helpers\n")
    results = grading.parse_unit(verdicts, "")
    errors = results["c:http/errors"]
    assert errors["rows"] == [11, 12] and errors["reason"].startswith("11 of 12 rows pass")
    assert grading.earned(12, errors) == 11
    assert grading.earned(10, errors) == 9           # 9.17, down to a half point
    assert grading.earned(8, results["c:http/every_split"]) == 0      # all or nothing
    assert "rows" not in results["c:http/limits"]    # more rows passed than ran: ignored
    assert grading.earned(1, results["c:http/helpers"]) == 1
