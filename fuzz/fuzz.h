/* fuzz: what the libFuzzer targets share.
 *
 * Each target defines LLVMFuzzerTestOneInput, runs the code under test on
 * one input and checks what must hold of the result. A broken invariant is
 * a crash like any other: FUZZ_CHECK says what broke and aborts, and
 * libFuzzer saves the input that did it. */
#ifndef FUZZ_H
#define FUZZ_H

#include "http.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer calls this with each input data[0..size); it returns 0 (other
 * values are reserved), and crashes if the code under test misbehaves. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message if ok is false: the input breaks an invariant. */
#define FUZZ_CHECK(ok, ...)                                                      \
    do {                                                                         \
        if (!(ok)) {                                                             \
            fprintf(stderr, "invariant broken at %s:%d: ", __FILE__, __LINE__);  \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
            abort();                                                             \
        }                                                                        \
    } while (0)

/* The method the url target puts before its target: byte 0 of its input
 * chooses, so that CONNECT's authority form and OPTIONS's * are reached. */
static inline const char *fuzz_method(unsigned char choice)
{
    static const char *const methods[] = {"GET", "HEAD", "POST", "CONNECT", "OPTIONS"};

    return methods[choice % (sizeof methods / sizeof methods[0])];
}

/* Whether s lies inside buf[0..len) (an empty s may sit at its end). */
static inline int fuzz_inside(struct http_str s, const char *buf, size_t len)
{
    uintptr_t p = (uintptr_t)s.p, b = (uintptr_t)buf;

    return p >= b && p <= b + len && s.len <= b + len - p;
}

/* Whether s is a field value as the parsers promise it: no byte below ' '
 * but HTAB, no DEL, and no space or tab at either end. */
static inline int fuzz_clean_value(struct http_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char b = (unsigned char)s.p[i];

        if ((b < ' ' && b != '\t') || b == 0x7f)
            return 0;
    }
    return s.len == 0 || (s.p[0] != ' ' && s.p[0] != '\t' && s.p[s.len - 1] != ' ' &&
                          s.p[s.len - 1] != '\t');
}

/* Check fields[0..n) of a head in buf[0..len): each name a token, each value
 * clean, all inside the head. */
static inline void fuzz_check_fields(const struct http_field *fields, size_t n, const char *buf,
                                     size_t len)
{
    FUZZ_CHECK(n <= HTTP_MAX_FIELDS, "%zu fields, more than HTTP_MAX_FIELDS", n);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(fuzz_inside(fields[i].name, buf, len) && fuzz_inside(fields[i].value, buf, len),
                   "field %zu points outside the head", i);
        FUZZ_CHECK(http_is_token(fields[i].name), "field %zu's name is not a token", i);
        FUZZ_CHECK(fuzz_clean_value(fields[i].value), "field %zu's value \"%.*s\" is not clean",
                   i, (int)fields[i].value.len, fields[i].value.p);
    }
}

#endif
