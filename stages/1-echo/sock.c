/* sock: TCP sockets through getaddrinfo. See sock.h for the contracts. */
#include "sock.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int sock_listen(const char *host, const char *port)
{
    /* TODO(stage 1): return a socket listening on host:port.
     * 1. getaddrinfo(host, port, &hints, &res) with hints zeroed (memset),
     *    then ai_family = AF_UNSPEC, ai_socktype = SOCK_STREAM and
     *    ai_flags = AI_PASSIVE | AI_NUMERICSERV. If it fails, return
     *    SOCK_ENAME. A NULL host with AI_PASSIVE gives the wildcard addresses.
     * 2. For each address in the list, until one works: socket(), then
     *    setsockopt(SO_REUSEADDR) so a restarted server can rebind at once,
     *    then bind() and listen(fd, SOMAXCONN). If a step fails, close the
     *    socket and try the next address.
     *    Bonus: for an AF_INET6 address, setsockopt(IPPROTO_IPV6,
     *    IPV6_V6ONLY, 0) lets one socket on [::] serve IPv4 clients too; try
     *    the IPv6 addresses first when host is NULL.
     * 3. freeaddrinfo(res), and return the socket, or -1 with errno as the
     *    last failing call set it (EADDRINUSE: "Address already in use").
     * Read: man 3 getaddrinfo (its EXAMPLES), man 2 bind, man 7 socket. */
    (void)host;
    (void)port;
    errno = ENOSYS;
    return -1;
}

int sock_connect(const char *host, const char *port)
{
    /* TODO(stage 1): return a socket connected to host:port.
     * As in sock_listen, getaddrinfo (without AI_PASSIVE this time), and on
     * failure return SOCK_ENAME. Then for each address until one works:
     * socket() and connect(); if connect fails, close that socket and try the
     * next address (a name often has an IPv6 and an IPv4 address, and only one
     * may answer). freeaddrinfo, and return the socket or -1 with errno from
     * the last attempt (ECONNREFUSED: nothing listens there).
     * Read: man 3 getaddrinfo, man 2 connect. */
    (void)host;
    (void)port;
    errno = ENOSYS;
    return -1;
}
