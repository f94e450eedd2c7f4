/* text: a string built in a fixed buffer, printf by printf, with one check
 * at the end instead of one after every piece. */
#ifndef TEXT_H
#define TEXT_H

#include <stddef.h>

struct text {
    char *buf;                  /* the caller's buffer, NUL-terminated as it fills */
    size_t len;                 /* what has been put, counting what did not fit */
    size_t size;                /* bytes in buf */
};

/* Append a printf-formatted piece to t. Once buf is full, pieces are counted
 * in t->len but not stored. Sets no errno. */
void text_put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether everything put into t fitted in its buffer, with the NUL. */
int text_fits(const struct text *t);

#endif
