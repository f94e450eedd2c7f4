/* opt: command lines of the form PROGRAM PORT [--name VALUE | -flag]...
 *
 * A program lists its options in a table; opt_parse checks each value's
 * range and prints a usage line built from the table when something is wrong. */
#ifndef OPT_H
#define OPT_H

#include <stddef.h>

enum opt_kind {
    OPT_NUMBER,                 /* --name N, with N in [min, max] */
    OPT_TEXT,                   /* --name TEXT */
    OPT_FLAG,                   /* -v: no value; sets *value to 1 */
};

struct opt {
    const char *name;           /* with its dashes: "--header-timeout", "-v" */
    enum opt_kind kind;
    long min, max;              /* OPT_NUMBER: the values allowed */
    long *value;                /* OPT_NUMBER, OPT_FLAG: holds the default; set if given */
    const char **text;          /* OPT_TEXT: holds the default; set if given */
    const char *help;           /* a few words for the usage line */
};

/* Parse argv: argv[1] is the port (1-65535), stored in *port, and the rest
 * are options from table[0..n), each given at most once. Returns 0, or -1
 * after printing what is wrong and the usage on stderr. */
int opt_parse(int argc, char **argv, const struct opt *table, size_t n, const char **port);

#endif
