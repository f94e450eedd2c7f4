/* sock: TCP sockets through getaddrinfo, for IPv4 and IPv6 alike. */
#ifndef SOCK_H
#define SOCK_H

#include <stddef.h>

/* Returned instead of -1 when getaddrinfo cannot resolve the host or port;
 * errno is then not meaningful. */
#define SOCK_ENAME (-3)

/* Open a TCP socket listening on host:port, with SO_REUSEADDR set. A NULL host
 * means every local address, IPv6 and IPv4 on one socket where the system allows
 * it. Returns the listening descriptor (the caller closes it), -1 with errno set
 * on a system error (EADDRINUSE: the port is taken), or SOCK_ENAME. */
int sock_listen(const char *host, const char *port);

/* Connect to host:port over TCP, trying each address getaddrinfo returns in
 * turn. Returns the connected descriptor (the caller closes it), -1 with errno
 * set from the last address tried, or SOCK_ENAME. */
int sock_connect(const char *host, const char *port);

/* Accept the next client on listenfd, going on after failures that concern
 * one client only (it reset before we took it, a signal came, memory was
 * short for a moment). Returns the client's descriptor (the caller closes it),
 * or -1 with errno set: listenfd is broken (EBADF, EINVAL, ENOTSOCK), or no
 * descriptor is left (EMFILE, ENFILE), which retrying at once cannot mend. */
int sock_accept(int listenfd);

/* Make every write to fd fail, with errno EAGAIN (or a short count), once
 * it has waited timeout_ms for a peer that takes nothing (SO_SNDTIMEO): a
 * peer that stops reading cannot hold a thread for ever. Returns 0, or -1
 * with errno set. */
int sock_send_timeout(int fd, int timeout_ms);

/* As sock_connect, but give up on an address that has not answered within
 * timeout_ms: if none connects and one timed out, errno is ETIMEDOUT. On
 * the descriptor returned, as after sock_send_timeout(fd, timeout_ms), no
 * write waits longer than timeout_ms for a peer that stops reading. */
int sock_connect_timeout(const char *host, const char *port, int timeout_ms);

/* The negated HTTP status a client gets when connecting for it failed with
 * errno err: -504 if the origin did not answer in time (ETIMEDOUT), -503 if
 * this process has no descriptor left (EMFILE, ENFILE), else -502. Pure. */
int sock_connect_status(int err);

/* An address block: "10.0.0.0/8", "::1/128", or one address. */
struct sock_cidr {
    int family;                 /* AF_INET or AF_INET6 */
    unsigned char addr[16];     /* in network order: 4 or 16 bytes */
    int bits;                   /* the prefix length */
};

/* Parse text into c. Returns 0, or -1 if it is not an address block. */
int sock_parse_cidr(const char *text, struct sock_cidr *c);

/* Whether fd's peer is in one of blocks[0..n); an IPv4 client of an IPv6
 * socket (::ffff:a.b.c.d) counts as IPv4. */
int sock_peer_in(int fd, const struct sock_cidr *blocks, size_t n);

/* Turn off Nagle's algorithm on the TCP socket fd (TCP_NODELAY), so that
 * each write goes out at once. Returns 0, or -1 with errno set. */
int sock_nodelay(int fd);

/* Write the numeric address of fd's peer ("127.0.0.1", "::1") into
 * buf[0..size), as getnameinfo(3) does: thread-safe, unlike inet_ntoa.
 * Returns 0, or -1 if it cannot be had. */
int sock_peer_name(int fd, char *buf, size_t size);

#endif
