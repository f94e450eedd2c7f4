/* Fuzz the response-head parser, http_parse_response, and what is read
 * from a head after it: its framing (framing_response, for GET and for
 * HEAD) and its caching rules (cache_read_rules).
 *
 * Input: the bytes an origin sends. The head must end at the first empty
 * line, found here the plain way; what it gives must point inside the
 * head and obey the grammar; the head alone must parse the same, and any
 * prefix of it must be INCOMPLETE. */
#include "cache.h"
#include "framing.h"
#include "fuzz.h"
#include "http.h"

#include <string.h>

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
        FUZZ_CHECK(http_response_field(resp, "Content-Length") &&
                   !http_response_field(resp, "Transfer-Encoding") &&
                   get.length <= 9223372036854775807ULL, "a length without Content-Length");
    if (get.kind == FRAMING_CHUNKED)
        FUZZ_CHECK(resp->version == 11 && http_response_field(resp, "Transfer-Encoding") &&
                   !http_response_field(resp, "Content-Length"), "chunked without its field");
}

/* Check the caching rules of the head buf[0..head). */
static void check_rules(const char *buf, size_t head)
{
    struct cache_rules rules;

    cache_read_rules(buf, head, NOW, 300, &rules);
    FUZZ_CHECK(rules.storable == 0 || rules.storable == 1, "storable %d", rules.storable);
    FUZZ_CHECK(rules.lifetime >= 0 && rules.lifetime <= SECONDS_MAX, "lifetime %ld",
               rules.lifetime);
    FUZZ_CHECK(rules.initial_age >= 0 && rules.initial_age <= SECONDS_MAX, "initial age %ld",
               rules.initial_age);
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
    check_rules(buf, (size_t)r);
    return 0;
}
