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

int framing_request(const struct http_request *req, struct framing *f)
{
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
}

int framing_response(const struct http_response *resp, int head, struct framing *f)
{
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
}

int framing_keep_alive(const struct http_request *req)
{
    /* TODO(stage 8): HTTP/1.1 keeps the connection unless a Connection
     * field lists "close"; HTTP/1.0 closes it unless one lists "keep-alive".
     * Look at every Connection field, and every element of each.
     * Until this is written, every connection closes after one request. */
    (void)req;
    return 0;
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

ssize_t framing_chunks_feed(struct framing_chunks *c, const char *in, size_t n, char *out,
                            size_t *outn)
{
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
}

long long framing_relay(struct rio *from, int to, const struct framing *f, int timeout_ms,
                        const struct framing_tap *tap)
{
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
}
