/* echoserver PORT: a single-threaded echo server (stage 1).
 *
 * Each client in turn gets every byte it sends echoed back, a line at a time,
 * until it closes its side of the connection. Then the next client is served. */
#include "rio.h"
#include "sock.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXLINE 8192

/* Echo lines from connfd back to it until EOF or an error. */
static void echo(int connfd)
{
    /* ==== stage 1 exercise: echo ==== */
    /* TODO(stage 1): echo every line the client sends, until EOF.
     * rio_init a struct rio over connfd, then loop: rio_readline into a
     * MAXLINE buffer and rio_writen back exactly the bytes it returned (a
     * line may hold '\0' bytes, so never use strlen). If rio_readline returns
     * RIO_TOOLONG, the buffer holds sizeof line - 1 bytes of a longer line:
     * write those and go on. Stop at 0 (EOF) or on any error: a client that
     * vanishes must end this connection only, never the server. */
    (void)connfd;
    /* ==== end of stage 1 exercise: echo ==== */
}

/* Serve clients one at a time, forever. Returns -1, with errno set, only if
 * listenfd stops working. */
static int serve(int listenfd)
{
    /* ==== stage 1 exercise: serve ==== */
    /* TODO(stage 1): the accept loop. Forever: connfd = sock_accept(listenfd);
     * echo(connfd); close(connfd). Every accepted descriptor must be closed,
     * or the server runs out of them after about a thousand clients. When
     * sock_accept fails, listenfd is broken: return -1. */
    (void)listenfd;
    (void)echo;         /* delete this line once serve() calls echo() */
    errno = ENOSYS;
    return -1;
    /* ==== end of stage 1 exercise: serve ==== */
}

/* Whether s is a decimal TCP port number, 1 to 65535. */
static int valid_port(const char *s)
{
    char *end;
    long port;

    errno = 0;
    port = strtol(s, &end, 10);
    return errno == 0 && end != s && *end == '\0' && port >= 1 && port <= 65535;
}

int main(int argc, char **argv)
{
    int listenfd;

    if (argc != 2 || !valid_port(argv[1])) {
        fprintf(stderr, "usage: echoserver PORT    (PORT: a TCP port, 1-65535)\n");
        return 2;
    }
    /* A write to a client that has hung up must fail with EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    listenfd = sock_listen(NULL, argv[1]);
    if (listenfd < 0) {
        fprintf(stderr, "echoserver: cannot listen on port %s: %s\n", argv[1],
                listenfd == SOCK_ENAME ? "bad port" : strerror(errno));
        return 1;
    }
    serve(listenfd);
    fprintf(stderr, "echoserver: accept: %s\n", strerror(errno));
    close(listenfd);
    return 1;
}
