/* server: a thread per client, at most max_clients at once. See server.h.
 *
 *   accepting thread                     client threads (detached)
 *   fd = sock_accept()
 *   active++ >= max? refuse(fd), close
 *   pthread_create(client_main, {s, fd}) --> serve(fd); active--; close(fd)
 *
 * The connection goes to its thread in a struct allocated for it alone: the
 * thread frees it. Passing &fd, a variable the accept loop reuses, would be
 * a race: the next accept could change it before the thread reads it. */
#include "server.h"
#include "sock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int server_run(struct server *s)
{
    /* TODO(stage 4): serve each client in a thread of its own.
     * For each client sock_accept() returns:
     * 1. Reserve a slot: atomic_fetch_add(&s->active, 1) returns the count
     *    before yours. If that was already s->max_clients or more, give the
     *    slot back (atomic_fetch_sub), call s->refuse(fd, s->arg) and close
     *    fd: the client gets its 503 at once.
     * 2. Start a thread with pthread_create() that calls s->serve(fd,
     *    s->arg), then gives the slot back, then close(fd). Hand it fd in a
     *    struct you malloc() for this client alone (with s), and let the
     *    thread free it. Never pass &fd: the loop changes fd for the next
     *    client, maybe before the thread has read it.
     * 3. Make the thread detached (pthread_attr_setdetachstate), or no one
     *    reaps it and each client leaks a thread; and give it a stack of
     *    SERVER_STACK_SIZE (pthread_attr_setstacksize) so a thousand fit.
     * 4. If pthread_create fails (it returns an error number; it does not
     *    set errno), free the struct, give the slot back and refuse the
     *    client.
     * sock_accept failing with EMFILE or ENFILE means no descriptor is free
     * until a client is done: wait a moment (nanosleep, 10 ms) and go on.
     * Any other failure: return -1.
     * Everything the threads share must be safe to share: s->active is
     * atomic; the log (stage 5) writes each line with one write(2), and the
     * cache (stage 6) has a lock. Never use
     * functions that return static buffers: strtok (use strtok_r),
     * gethostbyname (use getaddrinfo), inet_ntoa (use inet_ntop), and no
     * static buffers of your own in code that threads run.
     * Read: man 3 pthread_create, man 3 pthread_attr_init. */
    int fd;

    while ((fd = sock_accept(s->listenfd)) >= 0) {
        s->serve(fd, s->arg);       /* one at a time, for now */
        close(fd);
    }
    return -1;
}
