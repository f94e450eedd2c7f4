/* opt: command-line options. See opt.h for the contract. */
#include "opt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPT_MAX 32              /* options a table may have: bits in seen */

/* Parse s as a decimal number in [min, max] into *out. Returns 0 or -1. */
static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static void usage(const char *prog, const struct opt *table, size_t n)
{
    fprintf(stderr, "usage: %s PORT", prog);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " [%s N]", table[i].name);
    fprintf(stderr, "\n  PORT  a TCP port to listen on, 1-65535\n");
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "  %s N  %s (%ld-%ld, default %ld)\n", table[i].name, table[i].help,
                table[i].min, table[i].max, *table[i].value);
}

/* The entry of table[0..n) named name, or NULL. */
static const struct opt *find(const struct opt *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

int opt_parse(int argc, char **argv, const struct opt *table, size_t n, const char **port)
{
    long got[OPT_MAX], ignored;
    unsigned long seen = 0;     /* a bit per table entry given */

    if (n > OPT_MAX || argc < 2 || parse_long(argv[1], 1, 65535, &ignored) < 0)
        goto usage;
    for (int i = 2; i < argc; i += 2) {
        const struct opt *o = find(table, n, argv[i]);
        size_t k = o ? (size_t)(o - table) : 0;

        if (o == NULL || i + 1 >= argc || (seen & 1UL << k)) {
            fprintf(stderr, "%s: %s: %s\n", argv[0], argv[i],
                    o == NULL ? "no such option" : i + 1 >= argc ? "needs a value" : "given twice");
            goto usage;
        }
        if (parse_long(argv[i + 1], o->min, o->max, &got[k]) < 0) {
            fprintf(stderr, "%s: %s %s: not a number from %ld to %ld\n", argv[0], argv[i],
                    argv[i + 1], o->min, o->max);
            goto usage;
        }
        seen |= 1UL << k;
    }
    for (size_t k = 0; k < n; k++)      /* all is well: only now change values */
        if (seen & 1UL << k)
            *table[k].value = got[k];
    *port = argv[1];
    return 0;
usage:
    usage(argv[0], table, n);
    return -1;
}
