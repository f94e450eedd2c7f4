/* framing: where an HTTP/1.1 message ends (RFC 9112 section 6), so that one
 * connection can carry one message after another; and relaying a body from
 * one connection to another without holding it whole.
 *
 * A body is delimited in one of four ways. Reading a request one way while
 * the next hop reads it another is "request smuggling": the bytes one side
 * takes for a body, the other takes for a second request. So anything that
 * could be read two ways is refused, never guessed at. */
#ifndef FRAMING_H
#define FRAMING_H

#include "http.h"
#include "rio.h"

#include <stddef.h>
#include <sys/types.h>

#define FRAMING_MAX_LINE 4096   /* the longest chunk-size or trailer line taken */

enum framing_kind {
    FRAMING_NONE,               /* no body: a request without Content-Length or
                                   Transfer-Encoding; a response to HEAD; 1xx, 204, 304 */
    FRAMING_LENGTH,             /* exactly length bytes (Content-Length) */
    FRAMING_CHUNKED,            /* chunks, up to the zero chunk and the trailer */
    FRAMING_CLOSE,              /* everything until the sender closes (responses only) */
};

struct framing {
    enum framing_kind kind;
    unsigned long long length;  /* FRAMING_LENGTH: the body's length */
};

/* The framing of req's body, from its Content-Length and Transfer-Encoding
 * fields. Returns 0 and sets *f; or -400 if they could be read more than one
 * way: both fields, Content-Length values that are not one number or that
 * differ, a Transfer-Encoding whose last coding is not chunked (or that has
 * chunked twice, or in an HTTP/1.0 request). Pure. */
int framing_request(const struct http_request *req, struct framing *f);

/* The framing of resp's body, resp answering a HEAD request if head. Returns
 * 0 and sets *f; or -502 for fields the proxy cannot trust: both
 * Content-Length and Transfer-Encoding, a bad Content-Length, or a malformed
 * Transfer-Encoding. Pure. */
int framing_response(const struct http_response *resp, int head, struct framing *f);

/* Whether the client's connection may carry another request after req:
 * HTTP/1.1 unless a Connection field says "close"; HTTP/1.0 only if one says
 * "keep-alive". Pure. */
int framing_keep_alive(const struct http_request *req);

/* A chunked body being decoded, a byte at a time if need be. */
struct framing_chunks {
    int state;                  /* where in the grammar the next byte falls */
    unsigned long long left;    /* bytes of the current chunk's data to come */
    size_t line;                /* bytes of the current size or trailer line */
    int digits;                 /* hex digits of the current chunk size */
};

/* Make c ready for a new chunked body. */
void framing_chunks_init(struct framing_chunks *c);

/* Decode in[0..n), the next bytes of a chunked body, copying the chunks'
 * data to out (if out is not NULL; it needs room for n bytes) and adding its
 * length to *outn. Stops at the end of the body. Returns the bytes of in that
 * belong to the body (fewer than n only if it ended), or -1 if they break
 * the grammar: a bad or overflowing chunk size, a missing CRLF, a line over
 * FRAMING_MAX_LINE. Pure. */
ssize_t framing_chunks_feed(struct framing_chunks *c, const char *in, size_t n, char *out,
                            size_t *outn);

/* Whether c has seen the whole body: the zero chunk, trailer, empty line. */
int framing_chunks_done(const struct framing_chunks *c);

/* framing_relay's errors. */
#define FRAMING_SINK_FAILED (-1)    /* writing to the receiver failed */
#define FRAMING_CUT_SHORT (-2)      /* the sender closed, failed or timed out mid-body */
#define FRAMING_MALFORMED (-4)      /* the chunks broke the grammar */

/* Called with each piece of the body as it is relayed. */
struct framing_tap {
    void (*fn)(void *arg, const char *piece, size_t n);
    void *arg;
};

/* Relay the body f describes from `from` to the descriptor to, as it comes
 * (chunked bodies unchanged, chunk sizes and all), never reading past its
 * end: what follows stays in from. Each wait for the sender is bounded by
 * timeout_ms. tap, if not NULL, sees every piece. Returns the bytes relayed,
 * or FRAMING_SINK_FAILED, FRAMING_CUT_SHORT (errno ETIMEDOUT if the sender
 * was too slow) or FRAMING_MALFORMED. */
long long framing_relay(struct rio *from, int to, const struct framing *f, int timeout_ms,
                        const struct framing_tap *tap);

#endif
