"""Stage 6: the shared cache. The origin stub counts what it receives, so a
hit is proved by the origin not seeing the second request."""
import threading
from urllib.parse import quote

from kit import proc
from kit.client import exchange, parse_response
from kit.expect import fail, show
from kit.origin import body_for

PROGRAM = "proxy"


def get(proxy, url, extra=""):
    """Fetch url through the proxy; returns the parsed response."""
    host = url.split("/")[2]
    reply = exchange(proxy.port, f"GET {url} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode())
    r = parse_response(reply.data)
    if r is None:
        fail(f"GET {url}: no response", f"got: {show(reply.data)}, {reply.ending()}")
    return r


def header(name, value):
    """A query parameter that makes the origin add a response header."""
    return "header=" + quote(f"{name}:{value}", safe="")


def seen(origin, path_prefix):
    """How many requests the origin received for paths starting so."""
    return sum(1 for r in origin.requests if r.target.startswith(path_prefix))


def expect_seen(origin, path, count, what):
    n = seen(origin, path)
    if n != count:
        fail(f"{what}: the origin received {n} requests for {path}, expected {count}",
             *(str(r) for r in origin.requests))


def check_hit(server, origin, path, what):
    url = origin.url(path)
    first, second = get(server, url), get(server, url)
    expect_seen(origin, path, 1, what)
    if second.body != first.body or second.body != body_for(path) or second.status != 200:
        fail(f"{what}: the cached copy differs from the original",
             f"first:  {show(first.body)}", f"second: {show(second.body)}")
    if second.header("X-Cache") != "HIT" or first.header("X-Cache") != "MISS":
        fail(f"{what}: X-Cache said {first.header('X-Cache')!r} then "
             f"{second.header('X-Cache')!r}, expected MISS then HIT")


def test_second_fetch_is_a_hit(server, origin):
    check_hit(server, origin, "/text/5000/hit", "a text page fetched twice")
    check_hit(server, origin, "/bin/70000/hit", "a binary file fetched twice")


def test_lru_order(start_program, origin):
    """Touch A, insert C: B is evicted, not A."""
    proxy = start_program(["{port}", "--cache-size", "250000", "--max-object", "100000"])
    a, b, c = (f"/bin/90000/{n}" for n in "abc")
    for path in (a, b, a, c):
        get(proxy, origin.url(path))
    expect_seen(origin, a, 1, "A, touched before C came")
    get(proxy, origin.url(a))
    expect_seen(origin, a, 1, "A, fetched again after C came")
    get(proxy, origin.url(b))
    expect_seen(origin, b, 2, "B, least recently used when C came")


def test_head_counts_toward_size(start_program, origin):
    """Two responses of a 1000-byte body do not fit in a 2050-byte cache,
    though their bodies would: a response's size is its head (at least 41
    bytes: a status line, Content-Length, the empty line) and its body, so B
    evicts A."""
    proxy = start_program(["{port}", "--cache-size", "2050", "--max-object", "2050"])
    a, b = "/bin/1000/head-a", "/bin/1000/head-b"
    for path in (a, b, b):
        get(proxy, origin.url(path))
    expect_seen(origin, b, 1, "B (a 1000-byte body) in a 2050-byte cache, fetched twice")
    get(proxy, origin.url(a))
    expect_seen(origin, a, 2, "A, fetched again after B came: with their heads, A and B take "
                "more than 1040 bytes each, so a 2050-byte cache cannot keep both")


def test_oversized_relayed_not_stored(start_program, origin):
    proxy = start_program(["{port}", "--max-object", "10000"])
    path = "/bin/50000/big"
    for i in range(2):
        r = get(proxy, origin.url(path))
        if r.body != body_for(path):
            fail(f"an object over --max-object, fetch {i + 1}: wrong bytes")
    expect_seen(origin, path, 2, "an object over --max-object, fetched twice")
    check_hit(proxy, origin, "/bin/9000/small", "an object under --max-object, fetched twice")


def test_not_stored(server, origin):
    cases = [
        (f"/text/100/ns?{header('Cache-Control', 'no-store')}", "", "Cache-Control: no-store"),
        (f"/text/100/pr?{header('Cache-Control', 'private')}", "", "Cache-Control: private"),
        ("/text/100/auth", "Authorization: Basic eDp5\r\n", "a request with Authorization"),
        ("/nothing/404", "", "a 404"),
        ("/text/100/s500?status=500", "", "a 500"),
        ("/text/100/cut?fault=close-mid-body", "", "a response cut short"),
    ]
    for path, extra, what in cases:
        for _ in range(2):
            get(server, origin.url(path), extra)
        expect_seen(origin, path.split("?")[0], 2, f"{what}, fetched twice")
    check_hit(server, origin, "/text/100/plain", "a plain 200, fetched twice")


def test_freshness(server, origin):
    """max-age=0 and an Expires before Date are stale at once; max-age=3600
    is served from the cache, with an Age header, which counts the age the
    response had when it came (the origin's Age)."""
    stale = [f"/text/10/m0?{header('Cache-Control', 'max-age=0')}",
             f"/text/10/ex?{header('Date', 'Thu, 27 Nov 2025 15:00:00 GMT')}&"
             f"{header('Expires', 'Thu, 27 Nov 2025 14:00:00 GMT')}"]
    for path in stale:
        get(server, origin.url(path))
        get(server, origin.url(path))
        expect_seen(origin, path.split("?")[0], 2, f"a stale response ({path}), fetched twice")
    path = f"/text/10/fresh?{header('Cache-Control', 'max-age=3600')}"
    get(server, origin.url(path))
    r = get(server, origin.url(path))
    expect_seen(origin, "/text/10/fresh", 1, "a max-age=3600 response, fetched twice")
    if r.header("Age") is None or not r.header("Age").isdigit():
        fail(f"a hit has no Age header: {r.headers}")
    path = f"/text/10/aged?{header('Cache-Control', 'max-age=3600')}&{header('Age', '3000')}"
    get(server, origin.url(path))
    r = get(server, origin.url(path))
    expect_seen(origin, "/text/10/aged", 1, "a max-age=3600 response that came 3000 s old "
                "(Age: 3000), fetched twice")
    ages = [v for n, v in r.headers if n.lower() == "age"]
    if len(ages) != 1 or not ages[0].isdigit() or not 3000 <= int(ages[0]) < 3600:
        fail(f"a hit on a response that came with Age: 3000 had Age fields {ages}, expected one, "
             "3000 or a little more: its age is its age when it came plus its time in the cache")


def test_vary(server, origin):
    path = f"/text/100/vary?{header('Vary', 'Accept-Language')}"
    get(server, origin.url(path), "Accept-Language: en\r\n")
    get(server, origin.url(path), "Accept-Language: en\r\n")
    expect_seen(origin, "/text/100/vary", 1, "Vary: Accept-Language, asked twice in English")
    get(server, origin.url(path), "Accept-Language: fr\r\n")
    expect_seen(origin, "/text/100/vary", 2, "then once in French")


def test_threads_hammering(server, origin):
    """20 threads fetch a mix of 10 URLs, hits and misses: all bytes right."""
    errors = []

    def client(t):
        for i in range(20):
            path = f"/bin/{3000 + (t + i) % 10}/h{(t + i) % 10}"
            if get(server, origin.url(path)).body != body_for(path):
                errors.append(path)
    threads = [threading.Thread(target=client, args=(t,)) for t in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        fail(f"{len(errors)} of 400 fetches got wrong bytes, e.g. {errors[0]}")
    if len(origin.requests) > 100:
        fail(f"400 fetches of 10 URLs reached the origin {len(origin.requests)} times: "
             "the cache answered too few of them")


def test_same_url_at_once(server, origin):
    """Ten clients ask for one uncached URL at once: each gets the right bytes,
    and then the cache answers."""
    path = "/bin/20000/ten"
    results = [None] * 10
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(
        i, get(server, origin.url(path)).body)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    if any(body != body_for(path) for body in results):
        fail("ten clients at once for one URL: some got wrong bytes")
    before = seen(origin, path)
    if get(server, origin.url(path)).header("X-Cache") != "HIT" or seen(origin, path) != before:
        fail("after ten clients fetched one URL, the next fetch was not a hit")


def test_memory_bound(start_program, origin):
    """Filling a 1 MiB cache five times over keeps the proxy's memory within
    cache-size + max-clients x max-object + 32 MiB of slack, and evicts: the
    first object is gone (the slack alone would hide a cache that never
    evicts)."""
    proxy = start_program(["{port}", "--cache-size", "1048576", "--max-object", "102400",
                           "--max-clients", "8"])
    get(proxy, origin.url("/text/10/warm"))
    before = proc.peak_memory_kib(proxy.pid)
    for i in range(60):
        get(proxy, origin.url(f"/bin/90000/fill{i}"))
    grown = proc.peak_memory_kib(proxy.pid) - before
    bound = (1048576 + 8 * 102400) // 1024 + 32 * 1024
    expect_seen(origin, "/bin/90000/fill59", 1, "the last object, before a second fetch")
    get(proxy, origin.url("/bin/90000/fill59"))
    expect_seen(origin, "/bin/90000/fill59", 1, "the last object, fetched again")
    get(proxy, origin.url("/bin/90000/fill0"))
    expect_seen(origin, "/bin/90000/fill0", 2, "the first object, which 5 MiB since must have evicted")
    if grown > bound:
        fail(f"after 60 x 90 KB through a 1 MiB cache, the proxy's peak memory grew by "
             f"{grown} KiB, more than the bound of {bound} KiB")
