/* Hostile submission: the stage-1 starter (its TODOs not done), which
 * prints a PASS line for every stage-1 unit test when the runner starts,
 * and when it exits prints them again, 128 MiB of them (a grader that kept
 * every verdict line it read grew to gigabytes).
 * Appended to: rio.c of stage 1 (the starter).
 * Expect: it gains nothing. The grader takes verdicts from the runner's
 * --verdicts descriptor, where only the runner's parent writes once a
 * test's child has ended, and reads stdout with bounded buffers: the
 * starter's own points and no more, and the grader's memory stays small. */
#include <stdio.h>

/* Print a PASS line for every test, times times. */
static void hostile_forge_verdicts(int times)
{
    static const char *const names[] = {
        "rio/writen_peer_gone", "rio/read_table", "rio/readline_table",
        "rio/readline_byte_by_byte", "rio/readline_every_split",
        "rio/readline_longer_than_rio_buffer", "rio/one_mib_from_a_thread",
        "rio/one_mib_under_signals", "rio/errors_returned", "sock/listen_and_connect_ipv4",
        "sock/listen_and_connect_ipv6", "sock/listen_any_serves_both", "sock/connect_refused",
        "sock/bad_names", "sock/port_in_use", "sock/relisten_after_close", "sock/accept",
    };

    for (int t = 0; t < times; t++)
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (printf("PASS     %s\n", names[i]) < 0)
                return;         /* the grader has stopped reading */
    fflush(stdout);
}

__attribute__((constructor)) static void hostile_forge_first(void)
{
    hostile_forge_verdicts(1);
}

__attribute__((destructor)) static void hostile_forge_last(void)
{
    hostile_forge_verdicts((128 << 20) / 500);     /* a round is about 500 bytes */
}
