/* opt: command lines of the form PROGRAM [OPTION]... [PORT], where an option
 * is --name VALUE or a flag such as -v, as the field's tools have them.
 *
 * A program lists its options in a table; opt_parse checks each value and
 * prints a usage built from the table when something is wrong, or when
 * asked with --help. */
#ifndef OPT_H
#define OPT_H

#include <stddef.h>

#define OPT_VERSION "1.0"       /* what --version prints */

enum opt_kind {
    OPT_NUMBER,                 /* --name N, with N in [min, max] */
    OPT_TEXT,                   /* --name TEXT */
    OPT_FLAG,                   /* -v: no value; sets *value to 1 */
    OPT_LIST,                   /* --name TEXT, repeatable: appended to list */
};

struct opt {
    const char *name;           /* with its dashes: "--header-timeout", "-v" */
    enum opt_kind kind;
    long min, max;              /* OPT_NUMBER: the values allowed; OPT_LIST: max items */
    long *value;                /* OPT_NUMBER, OPT_FLAG: holds the default; set if
                                   given. OPT_LIST: the number of items */
    const char **text;          /* OPT_TEXT: holds the default; set if given.
                                   OPT_LIST: an array of max items */
    const char *help;           /* a few words for the usage */
};

/* Parse argv against table[0..n): options may come in any order, each once
 * (an OPT_LIST one up to max times), and one PORT (1-65535) may stand among
 * them, stored in *port; *port holds its default, or NULL if it must be
 * given. --help prints the usage and --version the version on stdout.
 * Returns 0 to go on, 1 after --help or --version (exit 0), or -1 after
 * printing what is wrong and the usage on stderr (exit 2). */
int opt_parse(int argc, char **argv, const struct opt *table, size_t n, const char **port);

#endif
