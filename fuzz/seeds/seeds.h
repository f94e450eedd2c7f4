/* seeds: the fuzz targets' seed corpus, written from the CUnit tables.
 *
 * Each from_*.c includes one tests/test_*.c whole, so the seeds are the
 * tables' own cases and follow them as tests are added. The inputs each
 * target takes are described at the top of its fuzz_*.c. */
#ifndef SEEDS_H
#define SEEDS_H

#include <stddef.h>

/* Write p[0..n) as the seed OUT/target/table-index (OUT is seeds' argument).
 * A failure is remembered, and seeds exits non-zero at the end. */
void seed(const char *target, const char *table, size_t i, const char *p, size_t n);

/* Write a request head p[0..n) as a seed for target "request", and the
 * target of its request line (if it has two spaces) for target "url". */
void seed_request(const char *table, size_t i, const char *p, size_t n);

/* Write a chunked body p[0..n) as seeds for target "chunked": fed whole,
 * byte by byte, and in pieces of 3, 1 and 7 bytes. */
void seed_chunked(const char *table, size_t i, const char *p, size_t n);

/* Write the seeds from tests/test_http.c, test_framing.c, test_forward.c
 * and test_cache.c. */
void seeds_http(void);
void seeds_framing(void);
void seeds_forward(void);
void seeds_cache(void);

#endif
