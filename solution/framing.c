/* framing: where messages end. See framing.h for the contracts.
 *
 * One connection, three requests, the second one with a chunked body:
 *
 *   GET http://h/a HTTP/1.1 CRLF Host: h CRLF CRLF                  no body
 *   POST http://h/b HTTP/1.1 CRLF Host: h CRLF
 *     Transfer-Encoding: chunked CRLF CRLF
 *     5 CRLF hello CRLF 0 CRLF CRLF                                 chunks, last 0
 *   GET http://h/c HTTP/1.1 CRLF Host: h CRLF Connection: close CRLF CRLF
 *
 * The chunked grammar (RFC 9112 section 7.1), strictly, CRLF everywhere:
 *
 *   chunk-size [ BWS ";" extension ] CRLF  data CRLF   ...as many as come
 *   "0" [ extensions ] CRLF  [ trailer-field CRLF ]...  CRLF */
#include "framing.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#if STAGE > 8
/* Parse a Content-Length value: digits only, no sign, no list, and not past
 * LLONG_MAX. Returns 0 and sets *v, or -1. */
static int parse_length(struct http_str s, unsigned long long *v)
{
    *v = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned)(s.p[i] - '0');

        if (d > 9 || *v > ((unsigned long long)LLONG_MAX - d) / 10)
            return -1;
        *v = *v * 10 + d;
    }
    return s.len > 0 ? 0 : -1;
}

/* Read every Content-Length field of fields[0..n) into *length. Returns 0 if
 * there is none, 1 if they all hold one valid number, -1 otherwise. */
static int content_length(const struct http_field *fields, size_t n, unsigned long long *length)
{
    int seen = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned long long v;

        if (!http_str_equal(fields[i].name, "Content-Length"))
            continue;
        if (parse_length(fields[i].value, &v) < 0 || (seen && v != *length))
            return -1;
        *length = v;
        seen = 1;
    }
    return seen;
}

/* Read every Transfer-Encoding field of fields[0..n), as one list of
 * codings. Returns 0 if there is none; 1 if chunked is the last coding;
 * 2 if chunked is not there at all; -1 if an element is not a token, or
 * chunked comes twice or before another coding. */
static int transfer_coding(const struct http_field *fields, size_t n)
{
    int seen = 0, chunked = 0;
    struct http_str list, coding;

    for (size_t i = 0; i < n; i++) {
        if (!http_str_equal(fields[i].name, "Transfer-Encoding"))
            continue;
        list = fields[i].value;
        while (http_next_element(&list, &coding)) {
            if (!http_is_token(coding) || chunked)
                return -1;      /* junk, or anything at all after chunked */
            chunked = http_str_equal(coding, "chunked");
        }
        seen = 1;
    }
    if (!seen)
        return 0;
    return chunked ? 1 : 2;
}
#endif

int framing_request(const struct http_request *req, struct framing *f)
{
#if STAGE > 8
    unsigned long long length = 0;
    int cl = content_length(req->fields, req->nfields, &length);
    int te = transfer_coding(req->fields, req->nfields);

    if (cl < 0 || te < 0 || te == 2 || (cl && te) || (te && req->version == 10))
        return -400;            /* could be read two ways: refuse it */
    if (te)
        *f = (struct framing){FRAMING_CHUNKED, 0};
    else if (cl)
        *f = (struct framing){FRAMING_LENGTH, length};
    else
        *f = (struct framing){FRAMING_NONE, 0};
    return 0;
#else
    /* TODO(stage 8): tell how req's body is delimited, and refuse whatever
     * could be read two ways (RFC 9112 section 6.3).
     * - Content-Length: every such field must be digits only (no sign, no
     *   list "5, 5", nothing past LLONG_MAX), and all must say the same.
     * - Transfer-Encoding: all such fields make one comma-separated list of
     *   codings (http_next_element() walks it; http_is_token() checks an
     *   element; compare with http_str_equal(), which ignores case). It is
     *   good only if chunked is the last coding, and comes once.
     * - Both fields at once: -400. Transfer-Encoding in HTTP/1.0: -400.
     * - Set *f: FRAMING_CHUNKED, FRAMING_LENGTH with the length, or, with
     *   neither field, FRAMING_NONE. Return 0, or -400.
     * Until this is written, any request with a body, and any method but
     * GET and HEAD, gets 501 as in stage 7. */
    const struct http_field *length = http_find_field(req, "Content-Length");

    *f = (struct framing){FRAMING_NONE, 0};
    if (!http_method_is(req, "GET") && !http_method_is(req, "HEAD"))
        return -501;
    return http_find_field(req, "Transfer-Encoding") ||
           (length != NULL && !http_str_equal(length->value, "0")) ? -501 : 0;
#endif
}

int framing_response(const struct http_response *resp, int head, struct framing *f)
{
#if STAGE > 8
    unsigned long long length = 0;
    int cl = content_length(resp->fields, resp->nfields, &length);
    int te = transfer_coding(resp->fields, resp->nfields);

    if (cl < 0 || te < 0 || (cl && te))
        return -502;
    if (head || resp->status < 200 || resp->status == 204 || resp->status == 304)
        *f = (struct framing){FRAMING_NONE, 0};
    else if (te == 1 && resp->version == 11)
        *f = (struct framing){FRAMING_CHUNKED, 0};
    else if (cl && !te)
        *f = (struct framing){FRAMING_LENGTH, length};
    else                        /* another coding, or no length at all */
        *f = (struct framing){FRAMING_CLOSE, 0};
    return 0;
#else
    /* TODO(stage 8): tell how resp's body is delimited. The rules, in the
     * order they apply; the first that matches decides:
     *   1. Fields that cannot be trusted: -502 (the origin's fault), for
     *      every status, and for a response to HEAD too:
     *      - a Content-Length that is not digits only ("5, 5" is a list),
     *        or several that differ;
     *      - a Transfer-Encoding element that is not a token, chunked
     *        twice, or anything after chunked ("chunked, gzip");
     *      - both fields at once.
     *      The helpers you wrote for framing_request check these. Unlike a
     *      request's, a coding without chunked ("gzip" alone) is no error.
     *   2. A response to HEAD, or status 1xx, 204 or 304: FRAMING_NONE.
     *   3. chunked last, in an HTTP/1.1 response: FRAMING_CHUNKED.
     *   4. Content-Length: FRAMING_LENGTH, with the length.
     *   5. Anything else (neither field, "gzip" alone, chunked in an
     *      HTTP/1.0 response): FRAMING_CLOSE. The body runs until the origin
     *      closes, and the client's connection must close after it.
     * Until this is written, every response runs until the origin closes. */
    (void)resp;
    (void)head;
    *f = (struct framing){FRAMING_CLOSE, 0};
    return 0;
#endif
}

int framing_keep_alive(const struct http_request *req)
{
#if STAGE > 8
    int close = 0, keep = 0;
    struct http_str list, option;

    for (size_t i = 0; i < req->nfields; i++) {
        if (!http_str_equal(req->fields[i].name, "Connection"))
            continue;
        for (list = req->fields[i].value; http_next_element(&list, &option);) {
            close |= http_str_equal(option, "close");
            keep |= http_str_equal(option, "keep-alive");
        }
    }
    return !close && (req->version == 11 || keep);
#else
    /* TODO(stage 8): HTTP/1.1 keeps the connection unless a Connection
     * field lists "close"; HTTP/1.0 closes it unless one lists "keep-alive".
     * Look at every Connection field, and every element of each.
     * Until this is written, every connection closes after one request. */
    (void)req;
    return 0;
#endif
}

/* Where the next byte of a chunked body falls. */
enum {
    CH_SIZE,                    /* the first hex digit of a chunk size */
    CH_SIZE_MORE,               /* more hex digits, ';', BWS or CR */
    CH_SIZE_BWS,                /* spaces after the size: only ';' may follow */
    CH_EXT,                     /* a chunk extension, up to CR */
    CH_SIZE_LF,                 /* the LF of the size line */
    CH_DATA,                    /* the chunk's data */
    CH_DATA_CR,                 /* the CRLF after the data */
    CH_DATA_LF,
    CH_TRAILER,                 /* the start of a trailer line, or of the empty line */
    CH_TRAILER_NAME,            /* the rest of a trailer field's name, up to ':' */
    CH_TRAILER_MORE,            /* the rest of a trailer line, up to CR */
    CH_TRAILER_LF,
    CH_END_LF,                  /* the LF of the empty line that ends it all */
    CH_DONE,
    CH_ERROR,
};

void framing_chunks_init(struct framing_chunks *c)
{
    *c = (struct framing_chunks){.state = CH_SIZE};
}

int framing_chunks_done(const struct framing_chunks *c)
{
    return c->state == CH_DONE;
}

#if STAGE > 8
/* The value of hex digit b, or -1. */
static int hex(unsigned char b)
{
    if (b >= '0' && b <= '9')
        return b - '0';
    if (b >= 'a' && b <= 'f')
        return b - 'a' + 10;
    if (b >= 'A' && b <= 'F')
        return b - 'A' + 10;
    return -1;
}

/* Whether b may stand in an extension or a trailer line: HTAB, space,
 * visible ASCII (0x21-0x7E) or obs-text (0x80-0xFF); no other control
 * byte, no DEL, and no bare CR or LF. */
static int line_byte(unsigned char b)
{
    return b == '\t' || (b >= ' ' && b != 0x7f);
}

/* Whether b may stand in a field name (a token's byte, RFC 9110 section 5.6.2). */
static int name_byte(unsigned char b)
{
    return http_is_token((struct http_str){(const char *)&b, 1});
}

/* The state after byte b of a trailer line, in state s: the empty line, or
 * line bytes that do not begin with a space. The reference asks more: a
 * field line, a name, ':', then the value (RFC 9112 section 7.1.2), since
 * it relays what it takes and must not let a malformed line through. */
static int trailer_step(int s, unsigned char b)
{
    if (s == CH_TRAILER && b == '\r')
        return CH_END_LF;
    if (s == CH_TRAILER_MORE && b == '\r')
        return CH_TRAILER_LF;
    if (s == CH_TRAILER_MORE)
        return line_byte(b) ? CH_TRAILER_MORE : CH_ERROR;
    if (s == CH_TRAILER_NAME && b == ':')
        return CH_TRAILER_MORE;
    return name_byte(b) ? CH_TRAILER_NAME : CH_ERROR;
}

/* The state after byte b of a chunk-size line, in state s. */
static int size_step(struct framing_chunks *c, int s, unsigned char b)
{
    if ((s == CH_SIZE || s == CH_SIZE_MORE) && hex(b) >= 0) {
        if (++c->digits > 16)
            return CH_ERROR;    /* past 64 bits */
        c->left = c->left << 4 | (unsigned)hex(b);
        return CH_SIZE_MORE;
    }
    if (s == CH_SIZE)
        return CH_ERROR;        /* no digit at all */
    if (b == ';' && s != CH_EXT)
        return CH_EXT;
    if ((b == ' ' || b == '\t') && s != CH_EXT)
        return CH_SIZE_BWS;
    if (b == '\r' && s != CH_SIZE_BWS)
        return CH_SIZE_LF;
    return s == CH_EXT && line_byte(b) ? CH_EXT : CH_ERROR;
}

/* The state after byte b, in state s, one of those that await the LF at
 * the end of a line. */
static int lf_step(const struct framing_chunks *c, int s, unsigned char b)
{
    if (b != '\n')
        return CH_ERROR;
    if (s == CH_SIZE_LF)
        return c->left > 0 ? CH_DATA : CH_TRAILER;     /* size 0: the last chunk */
    if (s == CH_DATA_LF)
        return CH_SIZE;
    return s == CH_END_LF ? CH_DONE : CH_TRAILER;
}

/* Take one byte b that is not chunk data. Returns 0, or -1 if it breaks
 * the grammar. */
static int step(struct framing_chunks *c, unsigned char b)
{
    int s = c->state;

    if (s <= CH_EXT || (s >= CH_TRAILER && s <= CH_TRAILER_MORE))
        if (++c->line > FRAMING_MAX_LINE)
            s = CH_ERROR;       /* a size or trailer line that never ends (its LF not counted) */
    if (s <= CH_EXT)
        s = size_step(c, s, b);
    else if (s == CH_DATA_CR)
        s = b == '\r' ? CH_DATA_LF : CH_ERROR;
    else if (s >= CH_TRAILER && s <= CH_TRAILER_MORE)
        s = trailer_step(s, b);
    else if (s == CH_SIZE_LF || s == CH_DATA_LF || s == CH_TRAILER_LF || s == CH_END_LF)
        s = lf_step(c, s, b);
    else
        s = CH_ERROR;
    if (s == CH_SIZE || s == CH_TRAILER)
        c->line = 0, c->digits = 0;     /* a new line begins */
    c->state = s;
    return s == CH_ERROR ? -1 : 0;
}
#endif

ssize_t framing_chunks_feed(struct framing_chunks *c, const char *in, size_t n, char *out,
                            size_t *outn)
{
#if STAGE > 8
    size_t i = 0;

    while (i < n && c->state != CH_DONE) {
        if (c->state == CH_DATA) {      /* data: as much as has come, at once */
            size_t k = n - i < c->left ? n - i : (size_t)c->left;

            if (out != NULL)
                memcpy(out + *outn, in + i, k);
            if (outn != NULL)
                *outn += k;
            i += k;
            if ((c->left -= k) == 0)
                c->state = CH_DATA_CR;
        } else if (step(c, (unsigned char)in[i++]) < 0) {
            return -1;
        }
    }
    return (ssize_t)i;
#else
    /* TODO(stage 8): decode chunks, as a state machine that may be stopped
     * after any byte and go on with the next call: c->state says where in
     * the grammar (at the top of this file) the next byte falls, and the
     * CH_ names above are the states you need.
     * - Chunk data is copied a run at a time: min(what is left of in,
     *   c->left) bytes to out + *outn (if out is not NULL), then CRLF.
     * - Every other byte is one step. A size is 1 to 16 hex digits (more
     *   would overflow 64 bits); spaces may follow only before a ';';
     *   extensions and trailer lines take HTAB, space, visible ASCII
     *   (0x21-0x7E) and bytes 0x80-0xFF; any other control byte or DEL
     *   (0x7F) is an error.
     *   Every line ends with CRLF exactly. Count the bytes of size and
     *   trailer lines, up to and with the CR: one over FRAMING_MAX_LINE is
     *   an error too.
     * - Size 0 ends the chunks: then trailer lines, and an empty line.
     * - Stop at CH_DONE; return how many bytes of in you took, or -1 at the
     *   first byte that breaks the grammar (and stay in an error state). */
    (void)c;
    (void)in;
    (void)n;
    (void)out;
    (void)outn;
    return -1;
#endif
}

#if STAGE > 8
/* A body on its way: how it is framed, and how far it has come. */
struct body {
    const struct framing *f;
    struct framing_chunks chunks;       /* FRAMING_CHUNKED: the decoder */
    unsigned long long left;            /* FRAMING_LENGTH: the bytes still to come */
};

/* Whether all of body b has been relayed. */
static int relayed_all(const struct body *b)
{
    return b->f->kind == FRAMING_NONE || (b->f->kind == FRAMING_LENGTH && b->left == 0) ||
           (b->f->kind == FRAMING_CHUNKED && framing_chunks_done(&b->chunks));
}

/* How many of the n bytes at p belong to body b; or -1 if they break the
 * chunked grammar. */
static ssize_t body_part(struct body *b, const char *p, size_t n)
{
    if (b->f->kind == FRAMING_CHUNKED)
        return framing_chunks_feed(&b->chunks, p, n, NULL, NULL);
    return b->f->kind == FRAMING_LENGTH && b->left < n ? (ssize_t)b->left : (ssize_t)n;
}

/* Relay the next part of body b from from to to, and give it to tap: what
 * from has buffered, or what one read brings, as far as b goes. Returns the
 * bytes relayed, 0 at the end of a FRAMING_CLOSE body, or FRAMING_CUT_SHORT,
 * FRAMING_MALFORMED or FRAMING_SINK_FAILED. */
static ssize_t relay_part(struct rio *from, int to, struct body *b, int timeout_ms,
                          const struct framing_tap *tap)
{
    const char *p;
    ssize_t n, take;

    rio_set_deadline(from, timeout_ms);
    if ((n = rio_peek(from, &p)) <= 0)   /* relay straight from from's buffer */
        return n == 0 && b->f->kind == FRAMING_CLOSE ? 0 : FRAMING_CUT_SHORT;
    if ((take = body_part(b, p, (size_t)n)) < 0)
        return FRAMING_MALFORMED;
    if (rio_writen(to, p, (size_t)take) < 0)
        return FRAMING_SINK_FAILED;
    if (tap != NULL)
        tap->fn(tap->arg, p, (size_t)take);
    rio_skip(from, (size_t)take);   /* what follows the body stays in from */
    b->left -= b->f->kind == FRAMING_LENGTH ? (unsigned long long)take : 0;
    return take;
}
#endif

long long framing_relay(struct rio *from, int to, const struct framing *f, int timeout_ms,
                        const struct framing_tap *tap)
{
#if STAGE > 8
    struct body b = {.f = f, .left = f->length};
    long long total = 0;
    ssize_t n;

    framing_chunks_init(&b.chunks);
    while (!relayed_all(&b)) {
        if ((n = relay_part(from, to, &b, timeout_ms, tap)) <= 0)
            return n == 0 ? total : n;  /* 0: the end of a FRAMING_CLOSE body */
        total += n;
    }
    return total;
#else
    /* TODO(stage 8): relay the body f describes, and not a byte more: on a
     * kept-alive connection, what follows it is the next message.
     * rio_peek() shows what from has buffered (reading once if nothing is);
     * rio_writen() what belongs to the body straight from there to to;
     * rio_skip() it. Set from's deadline (timeout_ms) before each peek.
     * - FRAMING_NONE: nothing to relay. FRAMING_LENGTH: f->length bytes.
     *   FRAMING_CHUNKED: framing_chunks_feed() tells how many of the bytes
     *   belong to the body, and when it is done. FRAMING_CLOSE: all, to EOF.
     * - EOF or an error before the end: FRAMING_CUT_SHORT; a write that
     *   fails: FRAMING_SINK_FAILED; chunks that break the grammar:
     *   FRAMING_MALFORMED. Give each piece to tap->fn if tap is not NULL.
     * Until this is written, bodies run until the sender closes. */
    long long total = 0;
    const char *p;
    ssize_t n;

    (void)f;
    for (rio_set_deadline(from, timeout_ms); (n = rio_peek(from, &p)) > 0;
         rio_set_deadline(from, timeout_ms)) {
        if (rio_writen(to, p, (size_t)n) < 0)
            return FRAMING_SINK_FAILED;
        if (tap != NULL)
            tap->fn(tap->arg, p, (size_t)n);
        rio_skip(from, (size_t)n);
        total += n;
    }
    return n == 0 ? total : FRAMING_CUT_SHORT;
#endif
}
