/* Fuzz the response-head parser, http_parse_response, and what is read
 * from a head after it: its framing (framing_response, for GET and for
 * HEAD), its caching rules (cache_read_rules), and the head the client is
 * sent in its place (forward_send_head, through a pipe).
 *
 * Input: the bytes an origin sends. The head must end at the first empty
 * line, found here the plain way; what it gives must point inside the
 * head and obey the grammar; the head alone must parse the same, and any
 * prefix of it must be INCOMPLETE. */
#include "cache.h"
#include "forward.h"
#include "framing.h"
#include "fuzz.h"
#include "http.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define NOW 1764255600L         /* a fixed clock: Thu, 27 Nov 2025 15:00:00 GMT */
#define SECONDS_MAX 2147483648L /* the cache's largest count of seconds */

/* Where the head in buf[0..len) ends, just past its first empty line ("\n"
 * or "\r\n"), or 0 if it has none. */
static size_t head_end(const char *buf, size_t len)
{
    size_t start = 0;

    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n') {
            if (i == start || (i == start + 1 && buf[start] == '\r'))
                return i + 1;
            start = i + 1;
        }
    return 0;
}

/* The first field of resp named name (without regard to case), or NULL. */
static const struct http_field *field(const struct http_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->nfields; i++)
        if (http_str_equal(resp->fields[i].name, name))
            return &resp->fields[i];
    return NULL;
}

/* Check resp, parsed from the head buf[0..head). */
static void check_head(const struct http_response *resp, const char *buf, size_t head)
{
    FUZZ_CHECK(resp->version == 10 || resp->version == 11, "version %d", resp->version);
    FUZZ_CHECK(resp->status >= 100 && resp->status <= 999, "status %d", resp->status);
    FUZZ_CHECK(fuzz_inside(resp->reason, buf, head) &&
               !memchr(resp->reason.p, '\r', resp->reason.len) &&
               !memchr(resp->reason.p, '\n', resp->reason.len), "the reason phrase");
    fuzz_check_fields(resp->fields, resp->nfields, buf, head);
}

/* Check resp's framing, for a GET and for a HEAD. */
static void check_framing(const struct http_response *resp)
{
    struct framing get, head;
    int r = framing_response(resp, 0, &get);

    FUZZ_CHECK(r == 0 || r == -502, "framing_response returned %d", r);
    FUZZ_CHECK(framing_response(resp, 1, &head) == r, "HEAD is framed differently");
    if (r < 0)
        return;
    FUZZ_CHECK(head.kind == FRAMING_NONE, "a body after HEAD");
    if (resp->status < 200 || resp->status == 204 || resp->status == 304)
        FUZZ_CHECK(get.kind == FRAMING_NONE, "a body after status %d", resp->status);
    if (get.kind == FRAMING_LENGTH)
        FUZZ_CHECK(field(resp, "Content-Length") &&
                   !field(resp, "Transfer-Encoding") &&
                   get.length <= 9223372036854775807ULL, "a length without Content-Length");
    if (get.kind == FRAMING_CHUNKED)
        FUZZ_CHECK(resp->version == 11 && field(resp, "Transfer-Encoding") &&
                   !field(resp, "Content-Length"), "chunked without its field");
}

/* Whether v is shaped like an IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT":
 * 29 bytes, with digits where the date and time have theirs. */
static int fixdate_shape(struct http_str v)
{
    static const unsigned char digits[] = {5, 6, 12, 13, 14, 15, 17, 18, 20, 21, 23, 24};

    for (size_t i = 0; v.len == 29 && i < sizeof digits; i++)
        if (v.p[digits[i]] < '0' || v.p[digits[i]] > '9')
            return 0;
    return v.len == 29;
}

/* Check the caching rules of resp's head buf[0..head). An Expires that is
 * no date means "already expired" (RFC 9111 5.3) when nothing else says. */
static void check_rules(const struct http_response *resp, const char *buf, size_t head)
{
    const struct http_field *expires = field(resp, "Expires");
    struct cache_rules rules;

    cache_read_rules(buf, head, NOW, 300, &rules);
    FUZZ_CHECK(!expires || fixdate_shape(expires->value) ||
               field(resp, "Cache-Control") || rules.lifetime == 0,
               "Expires \"%.*s\" is no date, but gives a lifetime of %ld s",
               (int)expires->value.len, expires->value.p, rules.lifetime);
    FUZZ_CHECK(rules.storable == 0 || rules.storable == 1, "storable %d", rules.storable);
    FUZZ_CHECK(rules.lifetime >= 0 && rules.lifetime <= SECONDS_MAX, "lifetime %ld",
               rules.lifetime);
    FUZZ_CHECK(rules.initial_age >= 0 && rules.initial_age <= SECONDS_MAX, "initial age %ld",
               rules.initial_age);
}

/* Whether resp has a Connection field that names name. */
static int named_by_connection(const struct http_response *resp, struct http_str name)
{
    struct http_str list, elem;

    for (size_t i = 0; i < resp->nfields; i++) {
        if (!http_str_equal(resp->fields[i].name, "Connection"))
            continue;
        for (list = resp->fields[i].value; http_next_element(&list, &elem);)
            if (elem.len == name.len && strncasecmp(elem.p, name.p, name.len) == 0)
                return 1;
    }
    return 0;
}

/* How many lines forward_send_head adds to resp's fields: Via, X-Cache,
 * Connection, and Date if resp has none. */
static size_t own_lines(const struct http_response *resp)
{
    for (size_t i = 0; i < resp->nfields; i++)
        if (http_str_equal(resp->fields[i].name, "Date"))
            return 3;
    return 4;
}

/* Check the head the client gets for resp: it parses back with the same
 * status, in the proxy's own version (HTTP/1.1); its one Connection field
 * and one X-Cache are the proxy's; no hop-by-hop field of the origin's is
 * left. */
static void check_sent_head(const struct http_response *resp)
{
    static const char *const ours[] = {"Connection", "X-Cache"};
    static const char *const gone[] = {"Proxy-Connection", "Keep-Alive", "TE", "Upgrade"};
    static int fds[2] = {-1, -1};
    static char out[FORWARD_RESPONSE_HEAD_MAX + 512];
    static struct http_response sent;
    long n;
    int r;

    if (fds[0] < 0 && pipe(fds) < 0)
        return;
    /* no body: the head alone is less than a pipe holds */
    n = forward_send_head(fds[1], resp, "X-Cache: MISS\r\n", 1, NULL, 0);
    FUZZ_CHECK(n > 0 && read(fds[0], out, sizeof out) == n, "forward_send_head returned %ld (%s)",
               n, strerror(errno));
    r = http_parse_response(out, (size_t)n, &sent);
    FUZZ_CHECK(r == n || (r == -502 && resp->nfields + own_lines(resp) > HTTP_MAX_FIELDS),
               "the head sent does not parse (%d):\n%.*s", r, (int)n, out);
    if (r < 0)
        return;
    FUZZ_CHECK(sent.status == resp->status && sent.version == 11, "another status or version");
    for (size_t i = 0; i < sent.nfields; i++) {
        struct http_str name = sent.fields[i].name;
        int own = i + own_lines(resp) >= sent.nfields;  /* the last lines are the proxy's */

        for (size_t k = 0; k < sizeof ours / sizeof ours[0]; k++)
            FUZZ_CHECK(own || !http_str_equal(name, ours[k]), "the origin's %s was sent", ours[k]);
        for (size_t k = 0; k < sizeof gone / sizeof gone[0]; k++)
            FUZZ_CHECK(!http_str_equal(name, gone[k]), "the origin's %s was sent", gone[k]);
        FUZZ_CHECK(own || !named_by_connection(resp, name), "a field Connection names was sent");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http_response resp, again;    /* 1.6 KB each: keep them off the stack */
    const char *buf = (const char *)data;
    size_t end = head_end(buf, size);
    int r = http_parse_response(buf, size, &resp);

    FUZZ_CHECK(end == 0 ? r == HTTP_INCOMPLETE : r == (int)end || r == -502,
               "returned %d; the head ends at %zu", r, end);
    if (r <= 0)
        return 0;
    check_head(&resp, buf, (size_t)r);
    FUZZ_CHECK(http_parse_response(buf, (size_t)r, &again) == r &&
               again.status == resp.status && again.nfields == resp.nfields,
               "the head alone parses differently");
    FUZZ_CHECK(http_parse_response(buf, (size_t)r - 1, &again) == HTTP_INCOMPLETE,
               "the head without its last byte is not INCOMPLETE");
    check_framing(&resp);
    check_rules(&resp, buf, (size_t)r);
    check_sent_head(&resp);
    return 0;
}
