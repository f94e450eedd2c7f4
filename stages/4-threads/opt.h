/* opt: command lines of the form PROGRAM PORT [--name VALUE]...
 *
 * A program lists its options in a table; opt_parse checks each value's
 * range and prints a usage line built from the table when something is wrong. */
#ifndef OPT_H
#define OPT_H

#include <stddef.h>

struct opt {
    const char *name;           /* with its dashes: "--header-timeout" */
    long min, max;              /* the values allowed */
    long *value;                /* holds the default; set if the option is given */
    const char *help;           /* a few words for the usage line */
};

/* Parse argv: argv[1] is the port (1-65535), stored in *port, and the rest
 * are options from table[0..n), each given at most once. Returns 0, or -1
 * after printing what is wrong and the usage on stderr. */
int opt_parse(int argc, char **argv, const struct opt *table, size_t n, const char **port);

#endif
