/* Fuzz the request-head parser, http_parse_request, with whole heads.
 *
 * Beyond not crashing, it checks what the contract promises: an answer
 * from the documented set; a head no longer than the input; a request
 * whose strings all point inside the head and obey the grammar; the same
 * answer for the head alone, and INCOMPLETE (never an error) for any
 * prefix of a head it accepts, since conn.c calls it again as bytes come.
 * framing_request and framing_keep_alive then run on what it accepted. */
#include "framing.h"
#include "fuzz.h"
#include "http.h"

#include <string.h>

/* Whether r is a documented answer for an input of len bytes. */
static int valid_answer(int r, size_t len)
{
    static const int errors[] = {HTTP_INCOMPLETE, -400, -414, -431, -501, -505};

    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (r == errors[i])
            return 1;
    return r > 0 && (size_t)r <= len && r <= HTTP_MAX_HEAD;
}

/* Whether two parses of the same buffer found the same request. */
static int same_request(const struct http_request *a, const struct http_request *b)
{
    const struct http_str *sa[] = {&a->method, &a->target, &a->scheme, &a->host, &a->path,
                                   &a->query};
    const struct http_str *sb[] = {&b->method, &b->target, &b->scheme, &b->host, &b->path,
                                   &b->query};

    for (size_t i = 0; i < sizeof sa / sizeof sa[0]; i++)
        if (sa[i]->p != sb[i]->p || sa[i]->len != sb[i]->len)
            return 0;
    return a->form == b->form && a->port == b->port && a->version == b->version &&
           a->nfields == b->nfields &&
           memcmp(a->fields, b->fields, a->nfields * sizeof a->fields[0]) == 0;
}

/* Check the request line's parts of req, parsed from the head buf[0..head). */
static void check_line(const struct http_request *req, const char *buf, size_t head)
{
    FUZZ_CHECK(fuzz_inside(req->method, buf, head) && http_is_token(req->method),
               "the method is not a token inside the head");
    FUZZ_CHECK(fuzz_inside(req->target, buf, head) && req->target.len > 0,
               "the target is empty or outside the head");
    for (size_t i = 0; i < req->target.len; i++)
        FUZZ_CHECK((unsigned char)req->target.p[i] > ' ' && req->target.p[i] != 0x7f,
                   "the target holds byte 0x%02x", (unsigned char)req->target.p[i]);
    FUZZ_CHECK(req->version == 10 || req->version == 11, "version %d", req->version);
    if (req->form == HTTP_FORM_ABSOLUTE)
        FUZZ_CHECK(http_str_equal(req->scheme, "http"), "an absolute target not in http");
    if (req->form == HTTP_FORM_ABSOLUTE || req->form == HTTP_FORM_AUTHORITY)
        FUZZ_CHECK(fuzz_inside(req->host, buf, head) && req->host.len > 0 &&
                   req->port >= 1 && req->port <= 65535, "a bad host or port %u", req->port);
    if (req->form == HTTP_FORM_ABSOLUTE || req->form == HTTP_FORM_ORIGIN) {
        FUZZ_CHECK(req->path.len > 0 && req->path.p[0] == '/' &&
                   (fuzz_inside(req->path, buf, head) || req->path.len == 1),
                   "the path \"%.*s\"", (int)req->path.len, req->path.p);
        FUZZ_CHECK(fuzz_inside(req->query, buf, head) &&
                   (req->query.len == 0 || req->query.p[0] == '?'), "a query without its '?'");
        FUZZ_CHECK(!memchr(req->path.p, '?', req->path.len) &&
                   !memchr(req->path.p, '#', req->path.len) &&
                   !memchr(req->query.p, '#', req->query.len), "a '?' or '#' in path or query");
    }
    FUZZ_CHECK((req->form == HTTP_FORM_AUTHORITY) == http_method_is(req, "CONNECT"),
               "CONNECT and authority form go together");
    FUZZ_CHECK(req->form != HTTP_FORM_ASTERISK ||
               (http_method_is(req, "OPTIONS") && http_str_equal(req->path, "*")),
               "asterisk form without OPTIONS");
}

/* Check the fields of req, and what framing makes of them. */
static void check_fields(const struct http_request *req, const char *buf, size_t head)
{
    struct framing f;
    size_t hosts = 0;
    int r;

    fuzz_check_fields(req->fields, req->nfields, buf, head);
    for (size_t i = 0; i < req->nfields; i++)
        hosts += http_str_equal(req->fields[i].name, "Host");
    FUZZ_CHECK(hosts <= 1 && (hosts == 1 || req->version == 10), "%zu Host fields", hosts);
    r = framing_request(req, &f);
    FUZZ_CHECK(r == 0 || r == -400, "framing_request returned %d", r);
    if (r == 0 && f.kind == FRAMING_LENGTH)
        FUZZ_CHECK(http_find_field(req, "Content-Length") && f.length <= 9223372036854775807ULL,
                   "a length %llu without Content-Length", f.length);
    if (r == 0 && f.kind == FRAMING_CHUNKED)
        FUZZ_CHECK(http_find_field(req, "Transfer-Encoding") && req->version == 11 &&
                   !http_find_field(req, "Content-Length"), "chunked without its field");
    if (r == 0 && f.kind == FRAMING_NONE)
        FUZZ_CHECK(!http_find_field(req, "Transfer-Encoding") &&
                   !http_find_field(req, "Content-Length"), "no body, but a body field");
    FUZZ_CHECK(r < 0 || f.kind != FRAMING_CLOSE, "a request framed until close");
    (void)framing_keep_alive(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http_request req, again;      /* 2.5 KB each: keep them off the stack */
    const char *buf = (const char *)data;
    int r = http_parse_request(buf, size, &req);

    FUZZ_CHECK(valid_answer(r, size), "returned %d for %zu bytes", r, size);
    FUZZ_CHECK(r != HTTP_INCOMPLETE || size <= HTTP_MAX_HEAD, "INCOMPLETE after %zu bytes", size);
    if (r <= 0)
        return 0;
    check_line(&req, buf, (size_t)r);
    check_fields(&req, buf, (size_t)r);
    FUZZ_CHECK(http_parse_request(buf, (size_t)r, &again) == r && same_request(&req, &again),
               "the head alone (%d bytes) parses differently", r);
    for (size_t cut = (size_t)r / 2; cut < (size_t)r; cut = cut + 1 + ((size_t)r - cut) / 2) {
        int p = http_parse_request(buf, cut, &again);

        FUZZ_CHECK(p == HTTP_INCOMPLETE, "the first %zu bytes of a %d-byte head gave %d", cut,
                   r, p);
    }
    return 0;
}
