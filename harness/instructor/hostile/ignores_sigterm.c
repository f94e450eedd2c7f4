/* Hostile submission: a correct echo server that ignores SIGTERM (and
 * SIGINT and SIGHUP).
 * Appended to: echoserver.c of stage 1 (the reference's answer).
 * Expect: full marks, earned; each program is killed with SIGKILL when its
 * test ends, one second after the SIGTERM it ignores. */
#include <signal.h>

__attribute__((constructor)) static void hostile_ignore_sigterm(void)
{
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
}
