/* Hostile submission: prints 256 MiB on stdout and stderr when it starts.
 * Appended to: rio.c of stage 1 (the reference's answer), so the CUnit
 * runner prints it too, into the grader's pipe.
 * Expect: the grader keeps a bounded part of the runner's output and the
 * CUnit tests keep their points; echoserver writes into files, stops at the
 * sandbox's RLIMIT_FSIZE, killed by SIGXFSZ: its tests score 0. */
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void hostile_print_megabytes(void)
{
    static char line[4096];

    memset(line, 'm', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    for (int i = 0; i < (256 << 20) / (int)sizeof line; i++)
        if (write(1, line, sizeof line) < 0 || write(2, line, sizeof line) < 0)
            break;
}
