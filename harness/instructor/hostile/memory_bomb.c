/* Hostile submission: the CUnit runner, when it starts, leaves three
 * children in sessions of their own, each of which fills 3 GiB of memory
 * (9 GiB in all; each stays under the 8 GiB a process may map), and waits
 * until each has filled its share or died; then the tests run.
 * Appended to: rio.c of stage 1 (the reference's answer).
 * Graded: alone (what its children take would count in a batch's memory).
 * Expect: full marks, earned; the grade's cgroup holds all its processes
 * to 4 GiB in all, so the out-of-memory killer stops children (the grader
 * says so in its output), and nothing is left running. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Fill 3 GiB, tell the parent through fd, and wait to be killed. */
static void hostile_fill(int fd)
{
    volatile char *p = malloc((size_t)3 << 30);     /* volatile: every page is written */

    setsid();
    for (size_t i = 0; p != NULL && i < (size_t)3 << 30; i += 4096)
        p[i] = 'x';
    if (write(fd, "f", 1) < 0)
        _exit(1);
    for (;;)
        pause();
}

/* Whether this process is the CUnit runner (the programs link rio.c too). */
static int hostile_in_unit(void)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

    if (n <= 0)
        return 0;
    exe[n] = '\0';
    return strcmp(strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe, "unit") == 0;
}

__attribute__((constructor)) static void hostile_memory_bomb(void)
{
    int told[2], settled = 0;

    if (!hostile_in_unit() || pipe(told) < 0)
        return;
    for (int i = 0; i < 3; i++)
        if (fork() == 0)
            hostile_fill(told[1]);
    while (settled < 3) {       /* each child filled its share, or was killed */
        struct pollfd p = {.fd = told[0], .events = POLLIN};
        char c;

        if (poll(&p, 1, 100) > 0 && read(told[0], &c, 1) == 1)
            settled++;
        while (waitpid(-1, NULL, WNOHANG) > 0)
            settled++;
    }
    close(told[0]);
    close(told[1]);
}
