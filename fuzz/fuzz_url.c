/* Fuzz the URL parser with request-targets, and what the proxy does next
 * with the URL: its cache key and the request it sends upstream.
 *
 * Input: byte 0 chooses the method (fuzz_method), the rest is the target,
 * sent as "METHOD target HTTP/1.1\r\nHost: h\r\n\r\n" (an input with an LF is
 * skipped: it would end the request line early). parse_target is
 * static, so it is reached through http_parse_request. A CONNECT target
 * must be host:port again. An absolute target must give a cache key that
 * fits CACHE_KEY_MAX and parses back to the same URL and the same key, and
 * a request for upstream that fits FORWARD_HEAD_SIZE and parses back to the
 * same method, path, query and Host. */
#include "cache.h"
#include "forward.h"
#include "fuzz.h"
#include "http.h"

#include <string.h>
#include <strings.h>

#define AFTER " HTTP/1.1\r\nHost: h\r\n\r\n"

/* The request "method target AFTER" in a malloc'd buffer of exactly its
 * length (so ASan sees a read past it), which *len is set to; or NULL. */
static char *wrap(const char *method, const char *target, size_t n, size_t *len)
{
    size_t m = strlen(method);
    char *buf;

    *len = m + 1 + n + strlen(AFTER);
    if ((buf = malloc(*len)) == NULL)
        return NULL;
    memcpy(buf, method, m);
    buf[m] = ' ';
    memcpy(buf + m + 1, target, n);
    memcpy(buf + m + 1 + n, AFTER, strlen(AFTER));
    return buf;
}

/* Whether a and b hold the same bytes (with nocase, without regard to case). */
static int same(struct http_str a, struct http_str b, int nocase)
{
    return a.len == b.len && (a.len == 0 || (nocase ? strncasecmp(a.p, b.p, a.len)
                                                    : memcmp(a.p, b.p, a.len)) == 0);
}

/* Check that a CONNECT target is host:port or [host]:port, port in digits. */
static void check_authority(const struct http_request *req)
{
    const char *p = req->target.p, *end = p + req->target.len;
    int v6 = p[0] == '[';
    unsigned long port = 0;

    FUZZ_CHECK(req->host.p == p + v6 && req->host.len > 0, "the host is not where it was sent");
    p += v6 + req->host.len;
    FUZZ_CHECK(!v6 || (p < end && *p++ == ']'), "an IPv6 host without its ']'");
    FUZZ_CHECK(p < end && *p++ == ':' && p < end, "a CONNECT target without a port");
    for (; p < end; p++) {
        FUZZ_CHECK(*p >= '0' && *p <= '9', "a port that is not digits");
        port = port * 10 + (unsigned long)(*p - '0');
        FUZZ_CHECK(port <= 65535, "a port past 65535");
    }
    FUZZ_CHECK(port == req->port && port > 0, "port %u, sent %lu", req->port, port);
}

/* Check what goes upstream for req, whose cache key is key[0..n). */
static void check_upstream(const struct http_request *req, const char *key, size_t n)
{
    static char out[FORWARD_HEAD_SIZE];
    static struct http_request up;
    const struct http_field *host;
    struct http_str authority = {key + 7, n - 7 - req->path.len - req->query.len};
    int len = forward_build_request(req, out, sizeof out), r;

    FUZZ_CHECK(len > 0 && (size_t)len == strlen(out), "forward_build_request returned %d", len);
    r = http_parse_request(out, (size_t)len, &up);
    FUZZ_CHECK(r == len, "the upstream request does not parse (%d):\n%s", r, out);
    /* Host, Via, and Connection where FORWARD_CONNECTION is not empty. */
    size_t fields = 2 + (FORWARD_CONNECTION[0] != '\0');

    /* An OPTIONS about the server as a whole (no path, no query) goes as
     * "OPTIONS *" (RFC 9112 section 3.2.4); every other request in origin form. */
    int whole = up.form == HTTP_FORM_ASTERISK && http_method_is(req, "OPTIONS") &&
                req->query.len == 0 && same(req->path, (struct http_str){"/", 1}, 0);

    FUZZ_CHECK((up.form == HTTP_FORM_ORIGIN || whole) && up.version == 11 &&
               up.nfields == fields && same(up.method, req->method, 0) &&
               (whole || (same(up.path, req->path, 0) && same(up.query, req->query, 0))),
               "the upstream request line differs:\n%s", out);
    host = http_find_field(&up, "Host");
    FUZZ_CHECK(host != NULL && same(host->value, authority, 1),
               "upstream Host is not the key's \"%.*s\":\n%s", (int)authority.len,
               authority.p, out);
}

/* Check req's cache key: it parses back to req's URL and is its own key. */
static void check_key(const struct http_request *req)
{
    static char key[CACHE_KEY_MAX], key2[CACHE_KEY_MAX];
    static struct http_request again;
    size_t len;
    int n = cache_key(req, key, sizeof key), r;
    char *buf;

    FUZZ_CHECK(n > 7 && (size_t)n == strlen(key) && strncmp(key, "http://", 7) == 0,
               "cache_key returned %d for a %zu-byte target", n, req->target.len);
    if ((buf = wrap("GET", key, (size_t)n, &len)) == NULL)
        return;
    r = http_parse_request(buf, len, &again);
    FUZZ_CHECK(r == (int)len || (r == -414 && (size_t)n + 13 > HTTP_MAX_LINE),
               "the key \"%s\" does not parse back: %d", key, r);
    if (r > 0) {
        FUZZ_CHECK(again.form == HTTP_FORM_ABSOLUTE && same(again.host, req->host, 1) &&
                   again.port == req->port && same(again.path, req->path, 0) &&
                   same(again.query, req->query, 0), "the key \"%s\" names another URL", key);
        FUZZ_CHECK(cache_key(&again, key2, sizeof key2) == n && strcmp(key, key2) == 0,
                   "the key \"%s\" has another key, \"%s\"", key, key2);
    }
    free(buf);
    check_upstream(req, key, (size_t)n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http_request req;
    size_t len;
    char *buf;
    int r;

    if (size == 0 || memchr(data + 1, '\n', size - 1) != NULL)
        return 0;               /* a target is one line: an LF would end it early */
    if ((buf = wrap(fuzz_method(data[0]), (const char *)data + 1, size - 1, &len))
                         == NULL)
        return 0;
    r = http_parse_request(buf, len, &req);
    FUZZ_CHECK(r == (int)len || r == -400 || r == -414 || r == -501,
               "returned %d for a %zu-byte target", r, size - 1);
    if (r > 0) {
        FUZZ_CHECK(req.target.p == buf + strlen(fuzz_method(data[0])) + 1 &&
                   req.target.len == size - 1, "the target is not what was sent");
        if (req.form == HTTP_FORM_AUTHORITY)
            check_authority(&req);
        if (req.form == HTTP_FORM_ABSOLUTE)
            check_key(&req);
    }
    free(buf);
    return 0;
}
