"""Self-tests of the soak run's log check (harness/instructor/soak.py): it must catch a
missing line, an extra one, a wrong byte count and a malformed line, and it
must accept a hot URL's hit or miss and any byte count where the client
could not know it."""
import soak

HTTP = "http://127.0.0.1:5000"
HOT = HTTP + soak.HOT_PATHS[0]


def line(tag, status, nbytes, method, url):
    hier = "HIER_DIRECT/127.0.0.1" if tag.startswith("TCP_") else "HIER_NONE/-"
    return (f"1795796520.059      1 127.0.0.1 {tag}/{status} {nbytes} {method} {url} - "
            f"{hier} text/plain\n")


RECORDS = [(soak.HIT_OR_MISS, "GET", HOT, 200, 300),
           (soak.HIT_OR_MISS, "GET", HOT, 200, 300),
           ("TCP_MISS", "GET", HTTP + "/bin/5000/miss?u=1", 200, 5120),
           ("TCP_MISS", "GET", HTTP + "/bin/1500000/big?u=2", 200, None),
           ("TCP_TUNNEL", "CONNECT", "127.0.0.1:6000", 200, 105),
           ("TCP_TUNNEL", "CONNECT", "127.0.0.1:6000", 200, None),
           ("NONE_NONE", "NONE", "error:invalid-request", 400, None)]
LINES = [line("TCP_MISS", 200, 300, "GET", HOT),
         line("TCP_HIT", 200, 300, "GET", HOT),
         line("TCP_MISS", 200, 5120, "GET", HTTP + "/bin/5000/miss?u=1"),
         line("TCP_MISS", 200, 77777, "GET", HTTP + "/bin/1500000/big?u=2"),
         line("TCP_TUNNEL", 200, 105, "CONNECT", "127.0.0.1:6000"),
         line("TCP_TUNNEL", 200, 39, "CONNECT", "127.0.0.1:6000"),
         line("NONE_NONE", 400, 0, "NONE", "error:invalid-request")]


def check(tmp_path, lines):
    path = tmp_path / "log.txt"
    path.write_text("".join(lines))
    return soak.check_log(str(path), RECORDS, HTTP)


def test_the_log_that_matches_passes(tmp_path):
    assert check(tmp_path, LINES) == ([], len(LINES))


def test_a_missing_line_fails(tmp_path):
    problems, _ = check(tmp_path, LINES[:-1])
    assert len(problems) == 1 and "no line for it" in problems[0]


def test_an_extra_line_fails(tmp_path):
    problems, _ = check(tmp_path, LINES + [LINES[2]])
    assert len(problems) == 1 and "no client saw it" in problems[0]


def test_a_wrong_byte_count_fails(tmp_path):
    wrong = LINES[:4] + [line("TCP_TUNNEL", 200, 106, "CONNECT", "127.0.0.1:6000")] + LINES[5:]
    problems, _ = check(tmp_path, wrong)
    assert any("no line for it" in p and "105" in p for p in problems)


def test_a_wrong_tag_fails(tmp_path):
    wrong = [line("TCP_HIT", 200, 5120, "GET", HTTP + "/bin/5000/miss?u=1")]
    problems, _ = check(tmp_path, LINES[:2] + wrong + LINES[3:])
    assert len(problems) == 2


def test_a_malformed_line_fails(tmp_path):
    problems, lines = check(tmp_path, LINES[:-1] + [LINES[-1].replace(" - ", " ")])
    assert any("not well-formed" in p for p in problems) and lines == len(LINES) - 1
