/* tunnel: CONNECT tunnels. See tunnel.h for the contracts.
 *
 *   client --CONNECT h:443--> proxy --connect()--> h:443
 *   client <--200 Connection established--
 *   client <=======  bytes, both ways, with poll()  =======> h:443
 *
 * Each direction is relayed on its own: when one side stops sending (EOF),
 * the proxy shuts down writing to the other side, so that it sees EOF too,
 * and goes on relaying the direction that is still open. */
#if defined(__linux__)
#define _GNU_SOURCE             /* splice(2) and F_SETPIPE_SZ, Linux's own: see pump */
#endif
#include "tunnel.h"
#include "sock.h"

#include <errno.h>
#if defined(__linux__)
#include <fcntl.h>
#endif
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int tunnel_parse_ports(const char *list, struct tunnel_ports *p)
{
    const char *s = list;

    for (p->n = 0;; s++) {              /* an element, then ',' or the end */
        char *end;
        long port;

        errno = 0;
        port = strtol(s, &end, 10);
        if (errno != 0 || end == s || port < 1 || port > 65535 || p->n == TUNNEL_MAX_PORTS ||
            (*end != ',' && *end != '\0'))
            return -1;
        p->port[p->n++] = (unsigned)port;
        if (*end == '\0')
            return 0;
        s = end;
    }
}

int tunnel_relay(int client, int origin, int idle_ms, long long *to_client)
{
    /* TODO(stage 7): relay both ways until both directions are done.
     * Loop with poll(2) over the two sockets, asking for POLLIN on each
     * direction that is still open (a negative fd makes poll skip an entry).
     * When one is readable, read(2) a buffer from it and rio_writen() it to
     * the other; add what you send the client to *to_client.
     * read() returning 0 is EOF: that side has finished sending. Call
     * shutdown(other, SHUT_WR) so the other side sees EOF too, and stop
     * polling that direction, but keep relaying the other one: a client
     * may close its writing side and still wait for the rest of the answer
     * (half-close). Both directions done: return 0.
     * poll returning 0 (idle_ms passed with no traffic) or an error, or a
     * failed read or write: return -1. Read: man 2 poll, man 2 shutdown. */
    (void)client;
    (void)origin;
    (void)idle_ms;
    (void)to_client;
    return -1;
}

int tunnel_serve(int connfd, struct rio *rp, const struct http_request *req,
                 const struct tunnel_ports *allowed, int idle_ms, struct log_entry *e)
{
    /* TODO(stage 7): open the tunnel for CONNECT host:port.
     * 1. A port not in allowed (allowed->port[0..n)): return -403, so a
     *    proxy is not a way to reach any service on any host.
     * 2. sock_connect_timeout() to host and port (copy them out of req,
     *    as in forward.c), allowing idle_ms. If it fails (-1), return
     *    sock_connect_status(errno): -504 if the origin was too slow, -503
     *    if no descriptor was left, else -502; a name that does not resolve
     *    (SOCK_ENAME) is -502 too.
     * 3. Note the origin's address in e->peer (sock_peer_name), set
     *    e->status to 200, and send the client "HTTP/1.1 200 Connection
     *    established\r\n\r\n"; count those bytes in e->bytes.
     * 4. The client may have sent its first bytes (a TLS ClientHello) right
     *    after the CONNECT head: they may sit in rp already. Pass them on to
     *    the origin before anything else (rp->cnt says how many).
     * 5. tunnel_relay() until both sides are done, adding to e->bytes.
     * 6. Close the origin's socket; return 0. */
    (void)connfd;
    (void)rp;
    (void)req;
    (void)allowed;
    (void)idle_ms;
    (void)e;
    return -501;
}
