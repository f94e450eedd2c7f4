/* Hostile submission: fills the disk before it starts.
 * Appended to: echoserver.c of stage 1 (the reference's answer).
 * Expect: the file stops at the sandbox's RLIMIT_FSIZE, where SIGXFSZ kills
 * the program: every echoserver test scores 0, the CUnit tests keep theirs. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void hostile_fill_disk(void)
{
    static char block[1 << 16];
    int fd = open("fill.bin", O_WRONLY | O_CREAT | O_TRUNC, 0600);

    memset(block, 'x', sizeof block);
    while (fd >= 0 && write(fd, block, sizeof block) > 0)
        continue;
}
