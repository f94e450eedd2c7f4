/* opt: command-line options. See opt.h for the contract. */
#include "opt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPT_MAX 32              /* options a table may have: bits in seen */

static const char *const metavar[] = {
    [OPT_NUMBER] = " N", [OPT_TEXT] = " TEXT", [OPT_FLAG] = "", [OPT_LIST] = " TEXT",
};

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

static void usage(FILE *f, const char *prog, const struct opt *table, size_t n,
                  const char *port)
{
    fprintf(f, "usage: %s [OPTION]... %s\n", prog, port ? "[PORT]" : "PORT");
    fprintf(f, "  PORT  the TCP port to listen on, 1-65535");
    if (port != NULL)
        fprintf(f, " (default %s)", port);
    fprintf(f, "\n");
    for (size_t i = 0; i < n; i++) {
        const struct opt *o = &table[i];
        fprintf(f, "  %s%s  %s", o->name, metavar[o->kind], o->help);
        if (o->kind == OPT_NUMBER)
            fprintf(f, " (%ld-%ld, default %ld)", o->min, o->max, *o->value);
        if (o->kind == OPT_TEXT)
            fprintf(f, " (default %s)", *o->text);
        if (o->kind == OPT_LIST)
            fprintf(f, " (up to %ld times)", o->max);
        fprintf(f, "\n");
    }
    fprintf(f, "  --help  show this, and --version the version\n");
}

/* The entry of table[0..n) named name, or NULL. */
static const struct opt *find(const struct opt *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

/* Why option o refuses its value s. */
static const char *refusal(const struct opt *o, const char *s)
{
    if (o->kind == OPT_NUMBER)
        return "not a number in range";
    if (o->kind == OPT_LIST && s[0] != '\0')
        return "given too many times";
    return "empty";
}

/* Take option o's value s (NULL for a flag). Returns 0, or -1 after saying
 * what is wrong. */
static int take(const char *prog, const struct opt *o, const char *s)
{
    long number;

    if (o->kind == OPT_FLAG)
        *o->value = 1;
    else if (o->kind == OPT_NUMBER && parse_long(s, o->min, o->max, &number) == 0)
        *o->value = number;
    else if (o->kind == OPT_TEXT && s[0] != '\0')
        *o->text = s;
    else if (o->kind == OPT_LIST && s[0] != '\0' && *o->value < o->max)
        o->text[(*o->value)++] = s;
    else {
        fprintf(stderr, "%s: %s %s: %s\n", prog, o->name, s, refusal(o, s));
        return -1;
    }
    return 0;
}

/* Handle argv[*i], an option; advances *i past its value. Returns as
 * opt_parse does. */
static int option(int argc, char **argv, int *i, const struct opt *table, size_t n,
                  unsigned long *seen, const char *port)
{
    const struct opt *o = find(table, n, argv[*i]);
    unsigned long bit = o ? 1UL << (o - table) : 0;
    const char *wrong = NULL;

    if (strcmp(argv[*i], "--help") == 0) {
        usage(stdout, argv[0], table, n, port);
        return 1;
    }
    if (strcmp(argv[*i], "--version") == 0) {
        printf("%s (proxylab) %s\n", argv[0], OPT_VERSION);
        return 1;
    }
    if (o == NULL)
        wrong = "no such option";
    else if (o->kind != OPT_LIST && (*seen & bit))
        wrong = "given twice";
    else if (o->kind != OPT_FLAG && *i + 1 >= argc)
        wrong = "needs a value";
    if (wrong != NULL) {
        fprintf(stderr, "%s: %s: %s\n", argv[0], argv[*i], wrong);
        return -1;
    }
    *seen |= bit;
    return take(argv[0], o, o->kind == OPT_FLAG ? NULL : argv[++*i]);
}

int opt_parse(int argc, char **argv, const struct opt *table, size_t n, const char **port)
{
    const char *given = NULL, *fallback = *port;
    unsigned long seen = 0;     /* a bit per table entry given */
    long ignored;
    int r = 0;

    if (n > OPT_MAX) {
        fprintf(stderr, "%s: more than %d options in the table\n", argv[0], OPT_MAX);
        return -1;
    }
    for (int i = 1; i < argc && r == 0; i++) {
        if (argv[i][0] == '-')
            r = option(argc, argv, &i, table, n, &seen, fallback);
        else if (given == NULL && parse_long(argv[i], 1, 65535, &ignored) == 0)
            given = argv[i];
        else {
            fprintf(stderr, "%s: %s: %s\n", argv[0], argv[i],
                    given ? "one PORT only" : "not a port from 1 to 65535");
            r = -1;
        }
    }
    if (r == 0 && given == NULL && fallback == NULL) {
        fprintf(stderr, "%s: no PORT given\n", argv[0]);
        r = -1;
    }
    if (r < 0)
        usage(stderr, argv[0], table, n, fallback);
    *port = given ? given : fallback;
    return r;
}
