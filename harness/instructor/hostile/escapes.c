/* Hostile submission: a correct echo server that first tries to reach what
 * a submission must never see, and exits at once (so scores 0 on every
 * black-box test) if any of it is there:
 *   - the kit's own files: solution/, .git, the hidden tests;
 *   - another submission's workspace (grade-*, beside its own);
 *   - the grader's environment (PROXYLAB_SELFTEST_SECRET, set by the test);
 *   - a loopback port that the test opened outside the sandbox.
 * It also leaves a file in /tmp and in /dev/shm, which must not outlive
 * its grading. The test fills in @KIT@, @PORT@ and @WORKSPACES@.
 * Appended to: echoserver.c of stage 1 (the reference's answer).
 * Expect: full marks, earned, and nothing left in /tmp or /dev/shm; graded
 * with --no-sandbox, it loses its points (the attempts do reach there). */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Whether a connection to 127.0.0.1:port succeeds. */
static int hostile_reaches(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* How many grade-* directories the graders' directory shows: its own
 * workspace only, in the sandbox; beside it, its classmates' as they are
 * graded. */
static int hostile_workspaces(void)
{
    DIR *d = opendir("@WORKSPACES@");
    struct dirent *e;
    int n = 0;

    while (d != NULL && (e = readdir(d)) != NULL)
        n += strncmp(e->d_name, "grade-", 6) == 0;
    if (d != NULL)
        closedir(d);
    return n;
}

__attribute__((constructor)) static void hostile_escape(void)
{
    static const char *const kit[] = {"@KIT@/solution/rio.c", "@KIT@/.git/HEAD",
                                      "@KIT@/harness/hidden/test_stage1_hidden.py"};
    int fd;

    for (size_t i = 0; i < sizeof kit / sizeof kit[0]; i++)
        if ((fd = open(kit[i], O_RDONLY)) >= 0)
            _exit(10 + (int)i);
    if (hostile_workspaces() > 1)
        _exit(20);
    if (getenv("PROXYLAB_SELFTEST_SECRET") != NULL)
        _exit(21);
    if (hostile_reaches(@PORT@))
        _exit(22);
    close(open("/tmp/hostile-escapes-@PORT@", O_WRONLY | O_CREAT, 0644));
    close(open("/dev/shm/hostile-escapes-@PORT@", O_WRONLY | O_CREAT, 0644));
}
