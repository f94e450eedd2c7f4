"""Stage 5: the access log, log.txt, in Squid's native format.

Each test runs the proxy in a directory of its own, so log.txt starts empty,
and reads the log once the replies are in (the proxy writes a request's line
before it closes the connection; the tests still wait for the line to appear).
"""
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time

from kit import proc
from kit.client import connect, exchange, parse_response
from kit.expect import fail, show

PROGRAM = "proxy"

LINE = re.compile(
    r"^(?P<time>\d+\.\d{3}) +(?P<elapsed>\d+) (?P<client>\S+) "
    r"(?P<tag>NONE_NONE|TCP_MISS|TCP_HIT|TCP_DENIED|TCP_TUNNEL)/(?P<status>\d{3}) "
    r"(?P<bytes>\d+) (?P<method>\S+) (?P<url>\S+) - (?P<hier>HIER_DIRECT|HIER_NONE)/"
    r"(?P<peer>\S+) (?P<type>\S+)$")
UNRESOLVABLE = "a" * 64 + ".invalid"    # fails without asking a DNS server


def log_path(proxy):
    return os.path.join(proxy.workdir, "log.txt")


def wait_lines(proxy, n, timeout=10):
    """The log's lines, once there are at least n (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(log_path(proxy), "rb") as f:
                text = f.read().decode("latin-1")
        except FileNotFoundError:
            text = ""
        lines = text.splitlines()
        if len(lines) >= n or time.monotonic() > deadline:
            return lines, text
        time.sleep(0.01)        # polling the file: nothing signals a write


def parse(line):
    m = LINE.match(line)
    if m is None:
        fail("a log line is not in Squid's native format", f"line:     {line!r}",
             "expected: time.ms elapsed client TAG/status bytes method URL - HIER/peer type")
    return m.groupdict()


def request_for(url, method="GET", extra=""):
    host = url.split("/")[2]
    return f"{method} {url} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


def test_one_line_per_request(request, start_program, origin):
    """Each kind of request gives exactly one well-formed line, whose status
    is what the client got and whose bytes are what the client received."""
    proxy = start_program(["{port}", "--timeout", "1"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{s.getsockname()[1]}/"
    cases = [
        (request_for(origin.url("/text/100")), "TCP_MISS/200", "GET", "a miss"),
        (request_for(origin.url("/text/20/drip?fault=drip&drip=3&drip_ms=1")), "TCP_MISS/200",
         "GET", "a response that comes 3 bytes at a time"),
        (request_for(origin.url("/nothing")), "TCP_MISS/404", "GET", "the origin's 404"),
        (request_for(origin.url("/text/1"), "HEAD"), "TCP_MISS/200", "HEAD", "HEAD"),
        (b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n", "NONE_NONE/400", "GET", "origin form"),
        (b"GET / HTTP/9.9\r\nHost: a\r\n\r\n", "NONE_NONE/505", "NONE", "HTTP/9.9"),
        (request_for(refused), "TCP_MISS/502", "GET", "a refused port"),
        (request_for(f"http://{UNRESOLVABLE}/"), "TCP_MISS/502", "GET", "an unknown host"),
        (request_for(origin.url("/text/1?fault=never")), "TCP_MISS/504", "GET",
         "an origin that never answers"),
    ]
    if request.config.getoption("--stage") < 8:     # from stage 8 on, POST is forwarded
        cases.append((request_for(origin.url("/a"), "POST", "Content-Length: 0\r\n"),
                      "NONE_NONE/501", "POST", "POST (bodies come in stage 8)"))
    for i, (request, tag_status, method, what) in enumerate(cases):
        reply = exchange(proxy.port, request)
        lines, _ = wait_lines(proxy, i + 1)
        if len(lines) != i + 1:
            fail(f"{what}: the log has {len(lines)} lines after {i + 1} requests, expected "
                 f"{i + 1}", *lines)
        f = parse(lines[i])
        r = parse_response(reply.data)
        problems = []
        if f"{f['tag']}/{f['status']}" != tag_status:
            problems.append(f"logged {f['tag']}/{f['status']}, expected {tag_status}")
        if r is not None and int(f["status"]) != r.status:
            problems.append(f"logged status {f['status']}, but the client got {r.status}")
        if int(f["bytes"]) != len(reply.data):
            problems.append(f"logged {f['bytes']} bytes, but the client received "
                            f"{len(reply.data)}")
        if f["method"] != method or f["client"] != "127.0.0.1":
            problems.append(f"logged method {f['method']} and client {f['client']}, expected "
                            f"{method} and 127.0.0.1")
        if problems:
            fail(f"{what}: {problems[0]}", *problems[1:], f"line: {lines[i]}",
                 f"sent: {show(request)}")


def test_denied_is_logged(start_program, origin):
    proxy = start_program(["{port}", "--max-clients", "1"])
    with connect(proxy.port) as held:
        held.sendall(request_for(origin.url("/text/5?hold=h")))
        origin.wait_held("h")
        reply = exchange(proxy.port, request_for(origin.url("/text/5")))
        lines, _ = wait_lines(proxy, 1)
        origin.release("h")
    f = parse(lines[0]) if lines else None
    if f is None or f"{f['tag']}/{f['status']}" != "TCP_DENIED/503" or \
            int(f["bytes"]) != len(reply.data):
        fail("a client over --max-clients: expected one TCP_DENIED/503 line with the bytes "
             "it was sent", *lines)


def test_200_concurrent_requests(server, origin):
    """200 requests at once give 200 whole lines: none torn, none interleaved."""
    replies = [None] * 200

    def client(i):
        replies[i] = exchange(server.port, request_for(origin.url(f"/text/{100 + i}/c{i}")))
    threads = [threading.Thread(target=client, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    lines, text = wait_lines(server, 200)
    urls = sorted(parse(l)["url"] for l in lines)
    want = sorted(origin.url(f"/text/{100 + i}/c{i}") for i in range(200))
    if len(lines) != 200 or urls != want or not text.endswith("\n"):
        fail(f"200 requests at once: {len(lines)} lines, {len(set(urls) & set(want))} of the "
             "200 URLs found", "write each line with one write(2) on a descriptor opened "
             "with O_APPEND")


def test_no_forged_lines(server, origin):
    """Bytes in a request cannot make a second line or a false field."""
    requests = [
        request_for(origin.url("/text/1/a%0d%0a1.000 0 6.6.6.6 TCP_HIT/200")),
        b"GET " + origin.url("/text/1/b").encode() + b"\rX HTTP/1.1\r\nHost: h\r\n\r\n",
        request_for(origin.url("/text/1/\u00e9t\u00e9 with spaces")),
    ]
    for request in requests:
        exchange(server.port, request)
    lines, text = wait_lines(server, 3)
    if len(lines) != 3:
        fail(f"3 requests with CR, LF and odd bytes in the URL left {len(lines)} lines",
             *lines)
    for line in lines:
        parse(line)


def test_goaccess_reads_the_log(server, origin, tmp_path):
    """goaccess, a real log analyser, parses the log with no failed line."""
    if shutil.which("goaccess") is None:
        fail("goaccess is not installed: apt-get install -y goaccess")
    urls = [origin.url("/text/100"), origin.url("/bin/2000"), origin.url("/nothing"),
            "http://127.0.0.1:1/"]
    for url in urls:
        exchange(server.port, request_for(url))
    exchange(server.port, b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
    wait_lines(server, 5)
    report = tmp_path / "report.json"
    r = subprocess.run(["goaccess", log_path(server),
                        "--log-format=%x.%^ %~%L %h %^/%s %b %m %U %^ %^ %M",
                        "--date-format=%s", "--time-format=%s", "-o", str(report)],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    general = json.loads(report.read_text())["general"] if report.exists() else {}
    if general.get("total_requests") != 5 or general.get("failed_requests") != 0:
        fail(f"goaccess read {general.get('total_requests')} requests with "
             f"{general.get('failed_requests')} failed, expected 5 and 0",
             f"goaccess said: {r.stderr.decode(errors='replace')[-300:]}")


def test_log_that_cannot_be_opened(request, tmp_path):
    path = f"{request.config.getoption('--bin-dir')}/proxy"
    code, err = proc.run(path, ["5000", "--log", str(tmp_path / "no" / "such" / "log.txt")],
                         tmp_path)
    if code != 1 or "log" not in err:
        fail(f"proxy --log in a missing directory: {proc.describe_status(code)}, "
             f"stderr {err.strip()[:80]!r}", "expected: exit status 1 and a message about the log")
