/* sock: TCP sockets through getaddrinfo. See sock.h for the contracts. */
#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* ==== stage 1 exercise: helpers 1 ==== */
/* Look up host:port for a TCP socket; flags adds AI_PASSIVE for a listener.
 * Returns 0, or getaddrinfo's error code. */
static int sock_resolve(const char *host, const char *port, int flags,
                        struct addrinfo **res)
{
    struct addrinfo hints;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;        /* IPv4 or IPv6, whatever host has */
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = flags | AI_NUMERICSERV;
    return getaddrinfo(host, port, &hints, res);
}

/* Close fd without disturbing errno, and return -1. */
static int sock_fail(int fd)
{
    int saved = errno;

    close(fd);
    errno = saved;
    return -1;
}

/* A socket bound to ai and listening, or -1 with errno set. */
static int sock_listen_on(const struct addrinfo *ai)
{
    int one = 1, zero = 0;
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);

    if (fd < 0)
        return -1;
    /* Rebind at once after a restart, despite old connections in TIME_WAIT. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        return sock_fail(fd);
    /* An IPv6 socket takes IPv4 clients too, as ::ffff:a.b.c.d. */
    if (ai->ai_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0)
        return sock_fail(fd);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0)
        return sock_fail(fd);
    return fd;
}

/* A socket connected to ai, or -1 with errno set. */
static int sock_connect_to(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);

    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        return sock_fail(fd);
    return fd;
}

/* Free res without disturbing errno, and return fd. */
static int sock_done(struct addrinfo *res, int fd)
{
    int saved = errno;

    freeaddrinfo(res);
    errno = saved;
    return fd;
}
/* ==== end of stage 1 exercise: helpers 1 ==== */

int sock_listen(const char *host, const char *port)
{
    /* ==== stage 1 exercise: sock_listen ==== */
    struct addrinfo *res, *p;
    int fd = -1;

    if (sock_resolve(host, port, AI_PASSIVE, &res) != 0)
        return SOCK_ENAME;
    /* With no host, try the IPv6 wildcard [::] first: it serves both families. */
    for (p = res; host == NULL && p != NULL && fd < 0; p = p->ai_next)
        if (p->ai_family == AF_INET6)
            fd = sock_listen_on(p);
    for (p = res; p != NULL && fd < 0; p = p->ai_next)
        fd = sock_listen_on(p);
    return sock_done(res, fd);
    /* ==== end of stage 1 exercise: sock_listen ==== */
}

int sock_connect(const char *host, const char *port)
{
    /* ==== stage 1 exercise: sock_connect ==== */
    struct addrinfo *res, *p;
    int fd = -1;

    if (sock_resolve(host, port, 0, &res) != 0)
        return SOCK_ENAME;
    for (p = res; p != NULL && fd < 0; p = p->ai_next)
        fd = sock_connect_to(p);
    return sock_done(res, fd);
    /* ==== end of stage 1 exercise: sock_connect ==== */
}

/* ==== stage 1 exercise: helpers 2 ==== */
/* Errors of accept(2) that concern one client only, so that trying again
 * makes sense. Linux also reports there a network error already pending on
 * the new connection (man 2 accept, "Error handling"). */
static const int accept_transient[] = {
    ECONNABORTED, EINTR, ENOBUFS, ENOMEM, EPROTO, EPERM,
    ENETDOWN, ENOPROTOOPT, EHOSTUNREACH, ENETUNREACH,
};

static int sock_transient(int err)
{
    for (size_t i = 0; i < sizeof accept_transient / sizeof accept_transient[0]; i++)
        if (err == accept_transient[i])
            return 1;
    return 0;
}
/* ==== end of stage 1 exercise: helpers 2 ==== */

int sock_accept(int listenfd)
{
    /* ==== stage 1 exercise: sock_accept ==== */
    for (;;) {
        int fd = accept(listenfd, NULL, NULL);
        if (fd >= 0 || !sock_transient(errno))
            return fd;
    }
    /* ==== end of stage 1 exercise: sock_accept ==== */
}

int sock_send_timeout(int fd, int timeout_ms)
{
    struct timeval limit = {.tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000};

    return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
}

int sock_peer_name(int fd, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0 ||
        getnameinfo((struct sockaddr *)&ss, len, buf, (socklen_t)size, NULL, 0,
                    NI_NUMERICHOST) != 0)
        return -1;
    if (strncmp(buf, "::ffff:", 7) == 0)       /* an IPv4 client of an IPv6 socket */
        memmove(buf, buf + 7, strlen(buf + 7) + 1);
    return 0;
}
