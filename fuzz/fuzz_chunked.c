/* Fuzz the chunked decoder, framing_chunks_feed, in pieces the fuzzer
 * chooses, against a model of the same grammar.
 *
 * Input: byte 0 is a count k, the next k bytes are piece sizes (each byte's
 * value + 1, used in turn, over and over; k = 0 feeds it whole), and the
 * rest is the body. The decoder is run on the body whole and in those
 * pieces, and both runs must agree with the model below: the same answer
 * (a whole body, more needed, or an error), the same count of bytes taken,
 * and the same decoded data.
 *
 * The model is the grammar at the top of solution/framing.c written the
 * plain way, line by line over the whole buffer, not as a state machine:
 *
 *   size-line:    1-16 HEXDIG [ *(SP / HTAB) ";" *line-byte ] CRLF
 *   chunk:        size-line data CRLF           (size > 0)
 *   last:         size-line                     (size 0)
 *   trailers:     *( trailer-line CRLF ) CRLF
 *   trailer-line: 1*tchar ":" *line-byte        (a field line)
 *
 * where a line-byte is HTAB, SP, a visible byte or obs-text, a tchar is a
 * byte of a token (RFC 9110 section 5.6.2), and no line
 * may hold more than FRAMING_MAX_LINE bytes before its LF (its CR counts).
 * An error is reported as soon as the bytes so far cannot begin a valid
 * line, or a line grows past the limit. */
#include "framing.h"
#include "fuzz.h"

#include <string.h>

enum { WHOLE, MORE, BAD };      /* a whole body; more bytes needed; an error */

/* What a decoder, or the model, made of a body. */
struct outcome {
    int status;
    size_t taken;               /* WHOLE: the body's length */
    char *data;                 /* WHOLE, MORE: the data decoded */
    size_t n;
};

static const char *const status_names[] = {"a whole body", "more needed", "an error"};

/* The value of hex digit b, or -1. */
static int hexval(unsigned char b)
{
    const char *digits = "0123456789abcdef", *d;

    b = b >= 'A' && b <= 'F' ? (unsigned char)(b - 'A' + 'a') : b;
    return b != 0 && (d = strchr(digits, b)) != NULL ? (int)(d - digits) : -1;
}

/* Whether b may stand in an extension or a trailer line. */
static int line_byte(unsigned char b)
{
    return b == '\t' || (b >= ' ' && b != 0x7f);
}

/* Whether l[0..n) is a size line (without its CRLF); sets *size. */
static int size_line(const unsigned char *l, size_t n, unsigned long long *size)
{
    size_t i = 0, digits;

    for (*size = 0; i < n && hexval(l[i]) >= 0; i++)
        *size = *size << 4 | (unsigned)hexval(l[i]);
    if ((digits = i) == 0 || digits > 16)
        return 0;
    while (i < n && (l[i] == ' ' || l[i] == '\t'))
        i++;
    if (i == n)
        return i == digits;     /* spaces may only come before a ';' */
    if (l[i] != ';')
        return 0;
    while (++i < n)
        if (!line_byte(l[i]))
            return 0;
    return 1;
}

/* Whether b is a tchar. */
static int tchar(unsigned char b)
{
    return b != 0 && (strchr("!#$%&'*+-.^_`|~", b) != NULL || (b >= '0' && b <= '9') ||
                      (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z'));
}

/* Whether l[0..n) is a trailer line, or with empty_ok the empty line; with
 * begun, whether it begins one (its name may not have ended yet). */
static int trailer_line(const unsigned char *l, size_t n, int empty_ok, int begun)
{
    size_t i = 0;

    if (n == 0)
        return empty_ok;
    while (i < n && tchar(l[i]))
        i++;
    if (i == n)
        return begun;
    if (i == 0 || l[i] != ':')
        return 0;
    while (++i < n)
        if (!line_byte(l[i]))
            return 0;
    return 1;
}

/* Whether l[0..n), a line that has not ended yet, may still become a valid
 * one: some ending makes it a size line (or a trailer line, if trailer). */
static int viable(const unsigned char *l, size_t n, int trailer)
{
    unsigned char *t;
    unsigned long long size;
    int ok = 0;

    if (n > FRAMING_MAX_LINE)
        return 0;
    if (n > 0 && l[n - 1] == '\r')      /* only the LF may follow */
        return trailer ? trailer_line(l, n - 1, 1, 0) : size_line(l, n - 1, &size);
    if (trailer)
        return trailer_line(l, n, 1, 1);
    if ((t = malloc(n + 1)) == NULL)
        return 1;
    memcpy(t, l, n);
    for (const char *end = "0;"; *end && !ok; end++) {  /* more digits, or an extension */
        t[n] = (unsigned char)*end;
        ok = size_line(t, n, &size) || size_line(t, n + 1, &size);
    }
    free(t);
    return ok;
}

/* The next line of in[*pos..n): if it ends with CRLF, and is no longer than
 * FRAMING_MAX_LINE with its CR, set *len to its length without the CRLF,
 * move *pos past it and return WHOLE. If it has not ended, return MORE. If
 * it ends with a bare LF, or is too long, return BAD. */
static int take_line(const unsigned char *in, size_t n, size_t *pos, size_t *len)
{
    const unsigned char *lf = memchr(in + *pos, '\n', n - *pos);

    if (lf == NULL)
        return MORE;
    *len = (size_t)(lf - (in + *pos));
    if (*len == 0 || lf[-1] != '\r' || *len > FRAMING_MAX_LINE)
        return BAD;
    *len -= 1;
    *pos += *len + 2;
    return WHOLE;
}

/* The model's trailers, from in[*pos]: WHOLE (with *pos past the empty
 * line), MORE or BAD. */
static int model_trailers(const unsigned char *in, size_t n, size_t *pos)
{
    for (;;) {
        size_t start = *pos, len;
        int r = take_line(in, n, pos, &len);

        if (r == MORE)
            return viable(in + start, n - start, 1) ? MORE : BAD;
        if (r == BAD || !trailer_line(in + start, len, 1, 0))
            return BAD;
        if (len == 0)
            return WHOLE;
    }
}

/* Decode in[0..n) with the model into *o (o->data has room for n bytes). */
static void model(const unsigned char *in, size_t n, struct outcome *o)
{
    size_t pos = 0, start, len;
    unsigned long long size;

    for (;;) {
        int r = take_line(in, n, (start = pos, &pos), &len);

        if (r == MORE) {
            o->status = viable(in + start, n - start, 0) ? MORE : BAD;
            return;
        }
        if (r == BAD || !size_line(in + start, len, &size)) {
            o->status = BAD;
            return;
        }
        if (size == 0)
            break;
        if (size > n - pos) {           /* the chunk's data is still coming */
            memcpy(o->data + o->n, in + pos, n - pos);
            o->n += n - pos;
            o->status = MORE;
            return;
        }
        memcpy(o->data + o->n, in + pos, (size_t)size);
        o->n += (size_t)size;
        pos += (size_t)size;
        if ((pos < n && in[pos] != '\r') || (pos + 1 < n && in[pos + 1] != '\n')) {
            o->status = BAD;
            return;
        }
        if (pos + 2 > n) {
            o->status = MORE;
            return;
        }
        pos += 2;
    }
    o->status = model_trailers(in, n, &pos);
    o->taken = pos;
}

/* Feed body[0..n) to a new decoder, in pieces of pieces[i] + 1 bytes in
 * turn (or whole, if npieces is 0), each piece in a buffer of its own
 * size; put what it says in *o (o->data has room for n bytes). */
static void decode(const char *body, size_t n, const uint8_t *pieces, size_t npieces,
                   struct outcome *o)
{
    struct framing_chunks c;
    size_t off = 0;

    framing_chunks_init(&c);
    for (size_t k = 0; off < n && !framing_chunks_done(&c); k++) {
        size_t step = npieces ? (size_t)pieces[k % npieces] + 1 : n;
        char *piece;
        ssize_t r;

        step = step < n - off ? step : n - off;
        if ((piece = malloc(step)) == NULL)
            abort();
        memcpy(piece, body + off, step);
        r = framing_chunks_feed(&c, piece, step, o->data, &o->n);
        free(piece);
        if (r < 0) {
            FUZZ_CHECK(framing_chunks_feed(&c, "0", 1, NULL, NULL) < 0, "an error is forgotten");
            o->status = BAD;
            return;
        }
        FUZZ_CHECK((size_t)r == step || ((size_t)r < step && framing_chunks_done(&c)),
                   "took %zd of %zu bytes, and did not end", r, step);
        FUZZ_CHECK(o->n <= off + (size_t)r, "decoded more than it took");
        off += (size_t)r;
    }
    o->status = framing_chunks_done(&c) ? WHOLE : MORE;
    o->taken = off;
    FUZZ_CHECK(o->status == MORE || framing_chunks_feed(&c, "0", 1, NULL, NULL) == 0,
               "a decoder that is done took more");
}

/* Check that a and b, from the runs named how_a and how_b, agree. */
static void agree(const struct outcome *a, const char *how_a, const struct outcome *b,
                  const char *how_b)
{
    FUZZ_CHECK(a->status == b->status, "%s says %s, %s says %s", how_a, status_names[a->status],
               how_b, status_names[b->status]);
    FUZZ_CHECK(a->status != WHOLE || a->taken == b->taken, "%s took %zu bytes, %s took %zu",
               how_a, a->taken, how_b, b->taken);
    FUZZ_CHECK(a->status == BAD || (a->n == b->n && memcmp(a->data, b->data, a->n) == 0),
               "%s decoded %zu bytes, %s decoded %zu, or others", how_a, a->n, how_b, b->n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t k = size > 0 ? data[0] : 0, n;
    struct outcome whole = {0}, split = {0}, plain = {0};
    const char *body;

    if (size == 0 || k >= size)
        return 0;
    body = (const char *)data + 1 + k;
    n = size - 1 - k;
    whole.data = malloc(n + 1);
    split.data = malloc(n + 1);
    plain.data = malloc(n + 1);
    if (whole.data != NULL && split.data != NULL && plain.data != NULL) {
        decode(body, n, NULL, 0, &whole);
        decode(body, n, data + 1, k, &split);
        model((const unsigned char *)body, n, &plain);
        agree(&whole, "the decoder fed whole", &split, "the decoder fed in pieces");
        agree(&plain, "the model", &whole, "the decoder");
    }
    free(whole.data);
    free(split.data);
    free(plain.data);
    return 0;
}
