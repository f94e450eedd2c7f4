/* seeds OUT: write the seed corpus of every fuzz target into OUT/TARGET/,
 * from the tables of the CUnit tests. See seeds.h. */
#include "seeds.h"
#include "../fuzz.h"
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *out_dir;
static int failed;

/* The test files register their suites before main: nothing to do here. */
void unit_register(struct unit_suite *s)
{
    (void)s;
}

/* Not called: seeds runs no test. */
void unit_expect(int ok, const char *file, int line, const char *fmt, ...)
{
    (void)ok, (void)file, (void)line, (void)fmt;
}

/* Not called either. */
void unit_row(void)
{
}

/* Nor this. */
void unit_waiting(const char *what)
{
    (void)what;
}

void seed(const char *target, const char *table, size_t i, const char *p, size_t n)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    if (mkdir(path, 0777) < 0 && errno != EEXIST)
        failed = 1;
    snprintf(path, sizeof path, "%s/%s/%s-%02zu", out_dir, target, table, i);
    if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        if (!failed)            /* the first failure says it all */
            fprintf(stderr, "seeds: cannot write %s: %s\n", path, strerror(errno));
        failed = 1;
    }
}

void seed_request(const char *table, size_t i, const char *p, size_t n)
{
    const char *nl = memchr(p, '\n', n), *end = nl ? nl : p + n;
    const char *sp1 = memchr(p, ' ', (size_t)(end - p)), *sp2;
    char in[HTTP_MAX_LINE + 1];
    unsigned char choice = 0;

    seed("request", table, i, p, n);
    if (sp1 == NULL || (sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1))) == NULL ||
        (size_t)(sp2 - sp1) > sizeof in)
        return;
    while (choice < 5 && (strlen(fuzz_method(choice)) != (size_t)(sp1 - p) ||
                          memcmp(fuzz_method(choice), p, (size_t)(sp1 - p)) != 0))
        choice++;
    in[0] = (char)(choice % 5);
    memcpy(in + 1, sp1 + 1, (size_t)(sp2 - sp1 - 1));
    seed("url", table, i, in, (size_t)(sp2 - sp1));
}

void seed_chunked(const char *table, size_t i, const char *p, size_t n)
{
    static const struct {
        const char *how;
        const char *pieces;     /* the count of piece sizes, then each size - 1 */
        size_t len;
    } splits[] = {
        {"whole", "\0", 1}, {"bytes", "\1\0", 2}, {"3-1-7", "\3\2\0\6", 4},
    };
    char name[64], *in = malloc(n + 8);

    for (size_t k = 0; in != NULL && k < sizeof splits / sizeof splits[0]; k++) {
        snprintf(name, sizeof name, "%s-%s", table, splits[k].how);
        memcpy(in, splits[k].pieces, splits[k].len);
        memcpy(in + splits[k].len, p, n);
        seed("chunked", name, i, in, n + splits[k].len);
    }
    failed |= in == NULL;
    free(in);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seeds OUT\n");
        return 2;
    }
    out_dir = argv[1];
    if (mkdir(out_dir, 0777) < 0 && errno != EEXIST) {
        fprintf(stderr, "seeds: cannot make %s: %s\n", out_dir, strerror(errno));
        return 1;
    }
    seeds_http();
    seeds_framing();
    seeds_forward();
    seeds_cache();
    return failed;
}
