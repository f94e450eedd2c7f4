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
    static const char *const metavar[] = {[OPT_NUMBER] = " N", [OPT_TEXT] = " TEXT",
                                          [OPT_FLAG] = ""};

    fprintf(stderr, "usage: %s PORT", prog);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " [%s%s]", table[i].name, metavar[table[i].kind]);
    fprintf(stderr, "\n  PORT  a TCP port to listen on, 1-65535\n");
    for (size_t i = 0; i < n; i++) {
        const struct opt *o = &table[i];
        fprintf(stderr, "  %s%s  %s", o->name, metavar[o->kind], o->help);
        if (o->kind == OPT_NUMBER)
            fprintf(stderr, " (%ld-%ld, default %ld)", o->min, o->max, *o->value);
        if (o->kind == OPT_TEXT)
            fprintf(stderr, " (default %s)", *o->text);
        fprintf(stderr, "\n");
    }
}

/* The entry of table[0..n) named name, or NULL. */
static const struct opt *find(const struct opt *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

/* Check option o's value s (NULL for a flag) into *number or *text.
 * Returns 0, or -1 after saying what is wrong. */
static int take(const char *prog, const struct opt *o, const char *s, long *number,
                const char **text)
{
    if (o->kind == OPT_FLAG)
        *number = 1;
    else if (o->kind == OPT_TEXT && s[0] != '\0')
        *text = s;
    else if (o->kind == OPT_TEXT || parse_long(s, o->min, o->max, number) < 0) {
        fprintf(stderr, "%s: %s %s: %s\n", prog, o->name, s, o->kind == OPT_TEXT ? "empty"
                : "not a number in range");
        return -1;
    }
    return 0;
}

int opt_parse(int argc, char **argv, const struct opt *table, size_t n, const char **port)
{
    long numbers[OPT_MAX], ignored;
    const char *texts[OPT_MAX];
    unsigned long seen = 0;     /* a bit per table entry given */

    if (n > OPT_MAX || argc < 2 || parse_long(argv[1], 1, 65535, &ignored) < 0)
        goto usage;
    for (int i = 2; i < argc; i++) {
        const struct opt *o = find(table, n, argv[i]);
        size_t k = o ? (size_t)(o - table) : 0;
        int valued = o && o->kind != OPT_FLAG;

        if (o == NULL || (valued && i + 1 >= argc) || (seen & 1UL << k)) {
            fprintf(stderr, "%s: %s: %s\n", argv[0], argv[i],
                    o == NULL ? "no such option" : (seen & 1UL << k) ? "given twice"
                                                                   : "needs a value");
            goto usage;
        }
        if (take(argv[0], o, valued ? argv[++i] : NULL, &numbers[k], &texts[k]) < 0)
            goto usage;
        seen |= 1UL << k;
    }
    for (size_t k = 0; k < n; k++) {    /* all is well: only now change values */
        if ((seen & 1UL << k) && table[k].kind == OPT_TEXT)
            *table[k].text = texts[k];
        else if (seen & 1UL << k)
            *table[k].value = numbers[k];
    }
    *port = argv[1];
    return 0;
usage:
    usage(argv[0], table, n);
    return -1;
}
