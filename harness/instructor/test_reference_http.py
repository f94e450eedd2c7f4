"""The reference as an HTTP/1.1 intermediary and shared cache (RFC 9110,
RFC 9111), beyond what a stage asks of a student: a client's request
directives, Set-Cookie kept to the client it was meant for, and IP literals
that are what they claim to be. The origin stub counts what it receives: a
hit is the origin not seeing a request."""
import re
import time

from test_stage5_log import wait_lines
from test_stage6_cache import expect_seen, get, header
from test_stage8_keepalive import next_response, request

from kit.client import Connection, exchange, parse_response
from kit.expect import fail, show
from kit.origin import body_for
from kit.scripted import Scripted

PROGRAM = "proxy"


def expect_cache(r, verdict, what):
    if r.header("X-Cache") != verdict:
        fail(f"{what}: X-Cache {r.header('X-Cache')!r}, expected {verdict}",
             f"got: {show(r.raw)}")


def test_request_directives_refetch(server, origin):
    """A client's reload (Cache-Control: no-cache, Cache-Control: max-age=0,
    or Pragma: no-cache with no Cache-Control) is not answered from the
    cache: the origin is asked, and its answer replaces the stored one
    (RFC 9111 section 5.2.1)."""
    for n, fields in enumerate(["Cache-Control: no-cache\r\n", "Cache-Control: max-age=0\r\n",
                                "Pragma: no-cache\r\n"]):
        path = f"/text/300/reload{n}"
        what = f"a GET with {fields.strip()}, after a MISS and a HIT"
        expect_cache(get(server, origin.url(path)), "MISS", f"{what}: the first GET")
        expect_cache(get(server, origin.url(path)), "HIT", f"{what}: the second GET")
        expect_cache(get(server, origin.url(path), fields), "MISS", what)
        expect_seen(origin, path, 2, what)
        expect_cache(get(server, origin.url(path)), "HIT", f"{what}: a plain GET after it")
        expect_seen(origin, path, 2, f"{what}: a plain GET after it")


def test_request_no_store_keeps_nothing(server, origin):
    """The response to a request with Cache-Control: no-store is not stored
    (RFC 9111 section 5.2.1.5): the next GET goes to the origin."""
    path = "/text/300/req-no-store"
    get(server, origin.url(path), "Cache-Control: no-store\r\n")
    r = get(server, origin.url(path))
    expect_seen(origin, path, 2, "a GET after one with Cache-Control: no-store")
    expect_cache(r, "MISS", "a GET after one with Cache-Control: no-store")


def test_set_cookie_not_replayed(server, origin):
    """A stored response's Set-Cookie was for the client that caused it: a
    hit leaves it out, as Squid does, so that one client's cookie (a
    session, say) is not handed to the next."""
    path = f"/text/300/cookie?{header('Set-Cookie', 'session=alice')}"
    first = get(server, origin.url(path))
    if first.header("Set-Cookie") != "session=alice":
        fail("a response with Set-Cookie: the client that caused it did not get its cookie",
             f"got: {show(first.raw)}")
    second = get(server, origin.url(path))
    expect_cache(second, "HIT", "the same page again")
    if second.header("Set-Cookie") is not None:
        fail("a hit on a response stored with Set-Cookie: session=alice handed that cookie "
             "to another client", f"got: {show(second.raw)}")


def test_bracketed_ipv4_refused(server, origin):
    """[127.0.0.1] is no IPv6 literal (RFC 3986 section 3.2.2): 400, and no
    connection is made."""
    target = f"http://[127.0.0.1]:{origin.port}/text/10/bracket"
    reply = exchange(server.port, f"GET {target} HTTP/1.1\r\nHost: [127.0.0.1]:{origin.port}"
                     "\r\n\r\n".encode())
    r = parse_response(reply.data)
    if r is None or r.status != 400:
        fail(f"GET {target}: expected 400, got {show(reply.data)}")
    expect_seen(origin, "/text/10/bracket", 0, f"GET {target}")


def test_repeated_fields_are_one_list(server, origin):
    """Field lines of the same name make one comma-separated list (RFC 9110
    section 5.3): Cache-Control: max-age=600 and then Cache-Control: private
    is private, so not stored; Vary: Accept and then Vary: Cookie varies on
    Cookie too, so Bob does not get Alice's page."""
    path = (f"/text/300/two-cc?{header('Cache-Control', 'max-age=600')}"
            f"&{header('Cache-Control', 'private')}")
    get(server, origin.url(path))
    expect_cache(get(server, origin.url(path)), "MISS",
                 "a response with Cache-Control: max-age=600, then Cache-Control: private")
    path = f"/text/300/two-vary?{header('Vary', 'Accept')}&{header('Vary', 'Cookie')}"
    get(server, origin.url(path), "Accept: text/plain\r\nCookie: user=alice\r\n")
    bob = get(server, origin.url(path), "Accept: text/plain\r\nCookie: user=bob\r\n")
    expect_cache(bob, "MISS", "a response with Vary: Accept, then Vary: Cookie, fetched by "
                 "Alice, then by Bob with the same Accept and another Cookie")


def test_own_version_via_and_date(start_program):
    """An intermediary sends its own HTTP version in the status line, adds
    Via (with the version it received), and a Date where the origin gave
    none (RFC 9110 sections 6.2, 7.6.3 and 6.6.1): an HTTP/1.0 origin's
    undated "HTTP/1.0 200 OK" reaches the client as HTTP/1.1, with Via: 1.0
    and a Date in IMF-fixdate form."""
    proxy = start_program()
    with Scripted(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nCache-Control: no-store\r\n\r\nok",
                  then="close") as o:
        reply = exchange(proxy.port, f"GET http://{o.authority}/v HTTP/1.1\r\nHost: x\r\n"
                         "Connection: close\r\n\r\n".encode())
    r = parse_response(reply.data)
    if r is None or not reply.data.startswith(b"HTTP/1.1 200 OK\r\n") or r.body != b"ok":
        fail("an HTTP/1.0 origin's 200: expected the status line HTTP/1.1 200 OK and its body",
             f"got: {show(reply.data)}")
    via = r.header("Via") or ""
    if not via.startswith("1.0 "):
        fail(f"an HTTP/1.0 origin's 200: Via {via!r}, expected \"1.0 <the proxy's name>\"",
             f"got: {show(reply.data)}")
    date = r.header("Date") or ""
    if not re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT", date):
        fail(f"a response with no Date: Date {date!r}, expected one in IMF-fixdate form "
             "(Sun, 06 Nov 1994 08:49:37 GMT)", f"got: {show(reply.data)}")


def test_get_with_empty_body_is_cached(server, origin):
    """A GET that says Content-Length: 0 has no body: the cache answers it
    like any other GET (some clients send the field on every request)."""
    path = "/text/300/empty-body-get"
    for n, verdict in enumerate(("MISS", "HIT")):
        r = get(server, origin.url(path), "Content-Length: 0\r\n")
        expect_cache(r, verdict, f"GET {n + 1} of 2 with Content-Length: 0")
    expect_seen(origin, path, 1, "two GETs with Content-Length: 0")


def test_interim_responses_kept_from_http10_clients(server, origin):
    """An HTTP/1.0 client does not know 1xx responses: the proxy keeps them
    from it (RFC 9110 section 15.2), and it gets the final response alone;
    an HTTP/1.1 client gets the 103 first (stage 8's test)."""
    path = "/text/20/interim-10?interim=103"
    reply = exchange(server.port, f"GET {origin.url(path)} HTTP/1.0\r\n\r\n".encode())
    if not reply.data.startswith(b"HTTP/1.1 200 "):
        fail("an HTTP/1.0 client, whose origin sent a 103 before its 200: expected the 200 "
             "alone", f"got: {show(reply.data)}")


def test_unsolicited_101_is_502(start_program):
    """The proxy never asks an origin to switch protocols (Upgrade is
    hop-by-hop, and not passed on), so a 101 is no answer it can relay, and
    what follows it is no HTTP: the client gets 502."""
    proxy = start_program()
    with Scripted(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  b"Connection: upgrade\r\n\r\nnot http", then="close") as o:
        reply = exchange(proxy.port, f"GET http://{o.authority}/up HTTP/1.1\r\nHost: x\r\n"
                         "Connection: close\r\n\r\n".encode())
    r = parse_response(reply.data)
    if r is None or r.status != 502:
        fail("an origin that answers a plain GET with 101 Switching Protocols: expected 502",
             f"got: {show(reply.data)}")


def test_chunks_decoded_for_http10_clients(server, origin):
    """An HTTP/1.0 client knows no chunked coding: a chunked response
    reaches it decoded, without Transfer-Encoding, its end the close (RFC
    9112 section 6.1)."""
    path = "/text/5000/chunks-10?fault=chunked&chunk=700"
    reply = exchange(server.port, f"GET {origin.url(path)} HTTP/1.0\r\n\r\n".encode())
    r = parse_response(reply.data)
    head, _, body = reply.data.partition(b"\r\n\r\n")
    if r is None or r.status != 200 or b"transfer-encoding" in head.lower() or \
            body != body_for(path) or reply.end != "closed":
        fail("a chunked response, to an HTTP/1.0 client: expected 200 without "
             "Transfer-Encoding, the body decoded, then the close",
             f"got: {show(reply.data)}, {reply.ending()}")


def test_malformed_age_is_stale(server, origin):
    """An Age that is not one non-negative number (a list, two lines, a
    sign, a word) cannot be trusted: the response counts as stale, and the
    next GET goes to the origin (the HTTP caching tests' age-parse-*). A
    good Age (10 of max-age=600) still gives a hit."""
    cases = [("a list", [("Age", "0, 0")]), ("two lines", [("Age", "0"), ("Age", "0")]),
             ("a negative number", [("Age", "-5")]), ("a word", [("Age", "old")])]
    for n, (what, fields) in enumerate(cases):
        query = "&".join(header(k, v) for k, v in [("Cache-Control", "max-age=600")] + fields)
        path = f"/text/200/age{n}?{query}"
        get(server, origin.url(path))
        expect_cache(get(server, origin.url(path)), "MISS", f"a response whose Age is {what}")
    path = f"/text/200/age-good?{header('Cache-Control', 'max-age=600')}&{header('Age', '10')}"
    get(server, origin.url(path))
    expect_cache(get(server, origin.url(path)), "HIT", "a response with Age: 10, max-age=600")


def test_other_statuses_with_explicit_freshness_cached(server, origin):
    """Any final status but 206 and 304 may be stored when the response says
    how long it stays fresh (RFC 9111 section 3): a 301, a 404 and a 410
    with max-age=600 are hits the second time. Without explicit freshness,
    only a 200 is kept (stage 6's test_not_stored)."""
    for status in (301, 404, 410):
        path = f"/text/50/st{status}?status={status}&{header('Cache-Control', 'max-age=600')}"
        first = get(server, origin.url(path))
        if first.status != status:
            fail(f"a {status} with max-age=600: the client got {first.status}")
        second = get(server, origin.url(path))
        expect_cache(second, "HIT", f"a {status} with max-age=600, fetched again")
        if second.status != status:
            fail(f"a {status} with max-age=600, from the cache: status {second.status}")


def test_unsafe_method_invalidates_location_urls(server, origin):
    """A successful POST drops from the cache what its response's Location
    and Content-Location name on the same origin, relative or absolute
    (RFC 9111 section 4.4)."""
    targets = {"Location": "/text/300/inv-target1",
               "Content-Location": origin.url("/text/300/inv-target2")}
    for name, value in targets.items():
        path = value if value.startswith("/") else value[value.index("/text"):]
        get(server, origin.url(path))
        expect_cache(get(server, origin.url(path)), "HIT", f"{path}, before the POST")
        post = f"/text/10/poster-{name}?{header(name, value)}"
        reply = exchange(server.port, f"POST {origin.url(post)} HTTP/1.1\r\nHost: x\r\n"
                         "Content-Length: 3\r\nConnection: close\r\n\r\na=1".encode())
        r = parse_response(reply.data)
        if r is None or r.status != 200:
            fail(f"a POST whose response has {name}: {value}: expected 200",
                 f"got: {show(reply.data)}")
        expect_cache(get(server, origin.url(path)), "MISS",
                     f"{path}, after a POST whose response said {name}: {value}")


def test_must_understand_unknown_status_not_stored(server, origin):
    """Cache-Control: must-understand keeps a response out of a cache that
    does not know its status (RFC 9111 section 5.2.2.3): a 599 with it and
    max-age=600 is fetched again; a 404 with the same is a hit."""
    cc = header("Cache-Control", "max-age=600, must-understand")
    for status, verdict in ((599, "MISS"), (404, "HIT")):
        path = f"/text/50/mu{status}?status={status}&{cc}"
        get(server, origin.url(path))
        expect_cache(get(server, origin.url(path)), verdict,
                     f"a {status} with max-age=600, must-understand, fetched again")


def test_conditional_requests_answered_from_a_fresh_entry(server, origin):
    """A client's If-None-Match that matches a fresh entry's ETag (weakly),
    or, without it, an If-Modified-Since no earlier than its Last-Modified,
    in any of HTTP's three date forms, gets 304 from the cache (RFC 9110
    section 13.1, RFC 9111 section 4.3.2); otherwise the whole hit."""
    lm = "Thu, 27 Nov 2025 14:00:00 GMT"
    path = (f"/text/200/cond?{header('Cache-Control', 'max-age=600')}&"
            f"{header('ETag', chr(34) + 'abc' + chr(34))}&{header('Last-Modified', lm)}")
    get(server, origin.url(path))
    cases = [('If-None-Match: "abc"', 304), ('If-None-Match: "x", W/"abc"', 304),
             ('If-None-Match: "zzz"', 200), ("If-None-Match: *", 304),
             ("If-Modified-Since: Thu, 27 Nov 2025 15:00:00 GMT", 304),
             ("If-Modified-Since: Thu, 27 Nov 2025 13:00:00 GMT", 200),
             ("If-Modified-Since: Thursday, 27-Nov-25 15:00:00 GMT", 304),
             ("If-Modified-Since: Thu Nov 27 15:00:00 2025", 304),
             ('If-None-Match: "zzz"\r\nIf-Modified-Since: Thu, 27 Nov 2025 15:00:00 GMT', 200)]
    for field, status in cases:
        what = f"a GET with {field!r} of a fresh entry with ETag \"abc\", Last-Modified {lm}"
        r = get(server, origin.url(path), field + "\r\n")
        expect_cache(r, "HIT", what)
        if r.status != status or (status == 304 and (r.body or r.header("ETag") != '"abc"')):
            fail(f"{what}: expected {status}" + (" with the ETag, no body" if status == 304
                                                  else ""), f"got: {show(r.raw)}")
    expect_seen(origin, "/text/200/cond", 1, "a fresh entry, asked for conditionally")


def test_heuristic_freshness_from_last_modified(start_program, origin):
    """With no explicit freshness, a response with Last-Modified stays fresh
    for a tenth of its age then (RFC 9111 section 4.2.2), for the statuses
    cacheable by default: a 200 and a 410 last modified a year ago are hits,
    with --default-ttl 0; a 200 modified a second before its Date is stale
    at once, and the next GET goes to the origin."""
    proxy = start_program(["{port}", "--default-ttl", "0"])
    date = "Thu, 27 Nov 2025 15:00:00 GMT"
    cases = [("Wed, 27 Nov 2024 15:00:00 GMT", 200, "HIT"),
             ("Wed, 27 Nov 2024 15:00:00 GMT", 410, "HIT"),
             ("Thu, 27 Nov 2025 14:59:59 GMT", 200, "MISS")]
    for n, (lm, status, verdict) in enumerate(cases):
        # A hit's Date is now, so that it is not old already: its age counts from Date.
        dated = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()) \
            if verdict == "HIT" else date
        path = (f"/text/50/heur{n}?status={status}&{header('Last-Modified', lm)}&"
                f"{header('Date', dated)}")
        what = f"a {status} with Last-Modified {lm} and no explicit freshness, asked for twice"
        get(proxy, origin.url(path))
        r = get(proxy, origin.url(path))
        expect_seen(origin, f"/text/50/heur{n}?", 1 if verdict == "HIT" else 2, what)
        if verdict == "HIT":
            expect_cache(r, verdict, what)


def test_stale_entry_revalidated(server, origin):
    """A stored response that may not be used as it is (stale at once with
    max-age=0, or Cache-Control: no-cache, which says to ask every time) is
    revalidated with its validators (RFC 9111 section 4.3.1): the origin
    gets If-None-Match with the ETag, or If-Modified-Since with the
    Last-Modified, and its 304 lets the stored body answer, whole."""
    lm = "Thu, 27 Nov 2025 14:00:00 GMT"
    cases = [("ETag", '"v1"', "If-None-Match", "max-age=0"),
             ("ETag", 'W/"v1"', "If-None-Match", "no-cache"),
             ("Last-Modified", lm, "If-Modified-Since", "max-age=0"),
             ("Last-Modified", lm, "If-Modified-Since", "no-cache, max-age=600")]
    for n, (validator, value, condition, cc) in enumerate(cases):
        path = f"/text/300/reval{n}"
        url = origin.url(f"{path}?{header(validator, value)}&{header('Cache-Control', cc)}")
        what = f"a response with {validator}: {value} and Cache-Control: {cc}, asked for again"
        expect_cache(get(server, url), "MISS", f"{what}: the first GET")
        r = get(server, url)
        sent = seen_at(origin, path)
        if len(sent) != 2 or sent[1].header(condition) != value:
            fail(f"{what}: expected the origin to get a second request, with {condition}: "
                 f"{value}", *(f"{q}: {q.headers}" for q in sent))
        if r.status != 200 or r.body != body_for(path) or \
                r.header("Content-Length") != str(len(body_for(path))):
            fail(f"{what}: the origin said 304 Not Modified; expected the stored 200, "
                 "whole", f"got: {show(r.raw)}")


def test_304_updates_the_stored_head(server, origin):
    """The fields of the origin's 304 update the stored response (RFC 9111
    section 3.2): the client gets them, and so do later hits, fresh for the
    max-age the 304 gave; but not the fields that describe the stored body,
    such as Content-Length and ETag."""
    path = "/text/300/update304"
    url = origin.url(f"{path}?{header('ETag', chr(34) + 'v1' + chr(34))}&"
                     f"{header('Cache-Control', 'max-age=0')}&{header('X-Version', '1')}&"
                     "update=Cache-Control:max-age=600&update=X-Version:2&"
                     "update=Content-Length:5&update=ETag:%22v9%22")
    get(server, url)
    for n, verdict in enumerate(("HIT", "HIT")):
        what = f"GET {n + 2} of a stale entry that the origin's 304 updated"
        r = get(server, url)
        expect_cache(r, verdict, what)
        if r.header("X-Version") != "2" or r.header("Cache-Control") != "max-age=600":
            fail(f"{what}: expected the 304's X-Version: 2 and Cache-Control: max-age=600",
                 f"got: {show(r.raw)}")
        if r.body != body_for(path) or r.header("Content-Length") != "300" or \
                r.header("ETag") != '"v1"':
            fail(f"{what}: expected the stored body, Content-Length: 300 and ETag \"v1\": a "
                 "304 does not change what describes the body", f"got: {show(r.raw)}")
    expect_seen(origin, path, 2, "a stale entry, revalidated, then fresh for 600 s")


def ask(proxy, line, fields=""):
    """Send the proxy the request line and fields (then Connection: close);
    returns the raw reply and the parsed response, failing if none came."""
    request = f"{line}\r\nHost: x\r\n{fields}Connection: close\r\n\r\n".encode()
    reply = exchange(proxy.port, request)
    r = parse_response(reply.data)
    if r is None:
        fail(f"{line}: no response", f"sent: {show(request)}",
             f"got:  {show(reply.data)}, {reply.ending()}")
    return reply, r


def seen_at(origin, path):
    """The requests the origin received for path (a target or URL ending in it)."""
    return [q for q in origin.requests if q.path == path]


def test_max_forwards(server, origin):
    """Max-Forwards counts the proxies a TRACE or OPTIONS may still pass
    (RFC 9110 section 7.6.2). At 0 the proxy is the final recipient and
    answers itself, in the log like any answer: a TRACE gets 200 with the
    request it received as message/http, less its Cookie and credentials
    (section 9.3.8); an OPTIONS gets 200 with Allow and Content-Length: 0.
    The origin sees neither. At 3 they go on with 2; a GET's Max-Forwards
    passes unchanged."""
    trace = f"TRACE {origin.url('/text/10/mf-trace')} HTTP/1.1"
    secrets = "Cookie: secret=c\r\nAuthorization: Basic c2VjcmV0\r\n" \
              "Proxy-Authorization: Basic c2VjcmV0\r\n"
    _, r = ask(server, trace, "Max-Forwards: 0\r\nX-Probe: traced\r\n" + secrets)
    if r.status != 200 or (r.header("Content-Type") or "").lower() != "message/http" or \
            not r.body.startswith(trace.encode() + b"\r\n") or b"X-Probe: traced" not in r.body:
        fail("a TRACE with Max-Forwards: 0: expected 200, Content-Type: message/http, and "
             "the request as the proxy received it for a body", f"got: {show(r.raw)}")
    if b"secret" in r.body or b"c2VjcmV0" in r.body:
        fail("a TRACE with Max-Forwards: 0: its answer echoes Cookie, Authorization or "
             "Proxy-Authorization, which a proxy must not show", f"got: {show(r.raw)}")
    options = f"OPTIONS {origin.url('/text/10/mf-options')} HTTP/1.1"
    _, r = ask(server, options, "Max-Forwards: 0\r\n")
    if r.status != 200 or not r.header("Allow") or r.header("Content-Length") != "0" or r.body:
        fail("an OPTIONS with Max-Forwards: 0: expected 200 with Allow, Content-Length: 0 "
             "and no body", f"got: {show(r.raw)}")
    ask(server, f"GET {origin.url('/text/10/mf-after')} HTTP/1.1")
    origin.wait_for_requests(1)     # a GET after both: had either gone on, it came first
    if origin.requests[0].path != "/text/10/mf-after":
        fail("a TRACE or OPTIONS with Max-Forwards: 0 reached the origin",
             *(str(q) for q in origin.requests))
    lines, text = wait_lines(server, 3)
    for method in ("TRACE", "OPTIONS"):
        if not any("NONE_NONE/200 " in ln and f" {method} " in ln for ln in lines):
            fail(f"the proxy's own answer to a {method} with Max-Forwards: 0: no line "
                 f"\"NONE_NONE/200 ... {method} ...\" in the log", f"log: {text!r}")
    for method, fields, expected in (("TRACE", "Max-Forwards: 3", "2"),
                                     ("OPTIONS", "Max-Forwards: 3", "2"),
                                     ("GET", "Max-Forwards: 3", "3")):
        path = f"/text/10/mf-{method.lower()}-3"
        ask(server, f"{method} {origin.url(path)} HTTP/1.1", fields + "\r\n")
        got = [q.header_values("Max-Forwards") for q in seen_at(origin, path)]
        if got != [[expected]]:
            fail(f"a {method} with {fields}: the origin got Max-Forwards {got}, expected "
                 f"[[{expected!r}]]", *(str(q) for q in origin.requests))


def test_options_about_the_server_is_asterisk(server, origin):
    """An OPTIONS whose URL has no path and no query asks about the server,
    not a resource: the proxy that sends it to the origin writes it
    "OPTIONS *" (RFC 9112 section 3.2.4). With a path or a query it stays in
    origin form."""
    base = f"http://127.0.0.1:{origin.port}"
    for url, expected in ((base, "*"), (base + "/", "/"), (base + "?q", "/?q")):
        before = len(origin.requests)
        ask(server, f"OPTIONS {url} HTTP/1.1")
        got = [q.target for q in origin.wait_for_requests(before + 1)[before:]]
        if got != [expected]:
            fail(f"OPTIONS {url}: the origin got the request-target {got}, expected "
                 f"[{expected!r}]")


def test_request_via_names_the_clients_version(server, origin):
    """The Via a request gets names the version the proxy received it in
    (RFC 9110 section 7.6.3): "1.0 <name>" for an HTTP/1.0 client, though
    the request goes on in HTTP/1.1; "1.1 <name>" for an HTTP/1.1 one."""
    for version in ("1.0", "1.1"):
        path = f"/text/10/via-{version}"
        ask(server, f"GET {origin.url(path)} HTTP/{version}")
        got = [q.header_values("Via") for q in seen_at(origin, path)]
        if len(got) != 1 or len(got[0]) != 1 or got[0][0].split(" ")[0] != version:
            fail(f"an HTTP/{version} request: the origin got Via {got}, expected one "
                 f"\"{version} <the proxy's name>\"", *(str(q) for q in origin.requests))


def test_early_response_ends_the_upload(start_program):
    """An origin may answer before a request's body has all come (RFC 9112
    section 9.5): one that answers an 8 MiB POST with 413 right after its
    head, reading none of the body (more than the sockets' buffers hold),
    has its 413 reach the client, with Connection: close, and then the
    close; not a 502, nor a 504 once the origin stopped taking the body."""
    proxy = start_program(["{port}", "--timeout", "3"])
    size = 8 << 20
    with Scripted(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n\r\ntoo big!",
                  then="hold") as o:
        head = (f"POST http://{o.authority}/up HTTP/1.1\r\nHost: {o.authority}\r\n"
                f"Content-Length: {size}\r\n\r\n").encode()
        reply = exchange(proxy.port, head + bytes(size))
    r = parse_response(reply.data)
    if r is None or r.status != 413 or r.body != b"too big!" or \
            "close" not in r.tokens("Connection") or reply.end != "closed":
        fail("an 8 MiB POST that the origin answers with 413 before taking its body: "
             "expected the 413, with Connection: close, then the close",
             f"got: {show(reply.data)}, {reply.ending()}",
             "watch the origin's socket while the body goes (poll(2) on both)")


def test_expect_100_continue_goes_to_the_origin(start_program, origin):
    """Expect: 100-continue goes on to the origin, which answers it: an
    origin that answers 417 or 401 at once has that final response reach
    the client, which has sent no body, with no 100 Continue before it (and
    then the close); an origin that sends 100 Continue has it reach the
    client, which then sends its body and gets the final response."""
    proxy = start_program()
    finals = [(417, b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n"),
              (401, b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\n"
                    b"Content-Length: 0\r\n\r\n")]
    for status, answer in finals:
        what = f"a POST with Expect: 100-continue, that the origin answers with {status} at once"
        with Scripted(answer, then="hold") as o, Connection(proxy.port) as conn:
            conn.send(request("POST", f"http://{o.authority}/e{status}",
                              ["Expect: 100-continue", "Content-Length: 1000"]))
            r = next_response(conn, what)
            if r.status != status:
                fail(f"{what}: expected the {status} before the body is sent, got {r.status}",
                     f"got: {show(conn.received)}")
            if b"\r\nexpect: 100-continue\r\n" not in o.wait_for_heads(1)[0].lower():
                fail(f"{what}: the origin got no Expect: 100-continue",
                     f"it got: {show(o.heads[0])}")
            if conn.wait_end() or conn.end != "closed":
                fail(f"{what}: expected the close after the {status} (the client may still send "
                     f"its body), got {show(conn.received)}, {conn.ending()}")
    path = "/text/10/expect-origin"
    what = "a POST with Expect: 100-continue, to an origin that sends 100 Continue"
    with Connection(proxy.port) as conn:
        conn.send(request("POST", origin.url(path), ["Expect: 100-continue", "Content-Length: 11"]))
        r = next_response(conn, f"{what}, before its body")
        if r.status != 100:
            fail(f"{what}: expected the origin's 100 Continue before the body is sent",
                 f"got: {show(conn.received)}")
        conn.send(b"hello world")
        r = next_response(conn, f"{what}, after its body")
        if r.status != 200 or r.body != body_for(path):
            fail(f"{what}: after the body, expected one 200 with the body the origin sends",
                 f"got: {show(conn.received)}")
    seen = origin.wait_for_requests(1)[-1]
    if seen.header("Expect") != "100-continue" or seen.body != b"hello world":
        fail(f"{what}: the origin got Expect {seen.header('Expect')!r} and body "
             f"{show(seen.body)}, expected 100-continue and hello world")


def test_request_trailers_must_be_fields(server, origin):
    """A chunked request's trailer section holds field lines only (RFC 9112
    section 7.1.2: a token name, a colon, a value): a line without a colon,
    a name with a space, a line with no name, is 400 from the proxy, and the
    origin never gets the whole trailer section; a well-formed trailer goes
    through as sent."""
    def post(path, trailer):
        body = b"5\r\nhello\r\n0\r\n" + trailer + b"\r\n"
        sent = (f"POST {origin.url(path)} HTTP/1.1\r\nHost: x\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode() + body
        return sent, exchange(server.port, sent)

    for i, line in enumerate([b"no colon here", b"Bad Name: x", b": no name"]):
        sent, reply = post(f"/text/10/bad-trailer-{i}", line + b"\r\n")
        r = parse_response(reply.data)
        if r is None or r.status != 400:
            fail(f"a chunked POST with the trailer line {line!r}: expected 400",
                 f"sent: {show(sent)}", f"got:  {show(reply.data)}, {reply.ending()}")
        origin.wait_connections(0)      # the origin has read all it was sent
        if origin.refused or origin.requests:
            fail(f"a chunked POST with the trailer line {line!r}: the origin got it whole "
                 f"({(origin.refused or ['it answered'])[0]}); expected the proxy to refuse "
                 "it before the end of its trailer section",
                 f"sent: {show(sent)}", f"got:  {show(reply.data)}")
    sent, reply = post("/text/10/good-trailer", b"X-Sum: 42\r\n")
    r = parse_response(reply.data)
    seen = origin.wait_for_requests(1)[0]
    if r is None or r.status != 200 or seen.trailers != [("X-Sum", "42")] or \
            seen.body != b"hello":
        fail("a chunked POST with the trailer X-Sum: 42: expected 200, and the origin to get "
             f"the body and the trailer; it got {show(seen.body)} and {seen.trailers}",
             f"sent: {show(sent)}", f"got:  {show(reply.data)}")
