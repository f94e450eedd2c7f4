/* Hostile submission: forks without end, from a module: the CUnit runner,
 * which links it, bombs before its first test, as does echoserver.
 * Appended to: rio.c of stage 1 (the reference's answer).
 * Expect: 0 points, within seconds: once the programs' cgroup refuses a
 * fork, the grader kills the runner and runs nothing more, and every test
 * says "not run: fork bomb: the process limit was reached" (without that,
 * the runner waited out the whole run's time limit). */
#include <unistd.h>

__attribute__((constructor)) static void hostile_fork_bomb_module(void)
{
    if (getuid() == 0)          /* outside the grader's sandbox: do no harm */
        return;
    for (;;)
        (void)fork();
}
