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

#if STAGE > 4
/* What a client thread needs, handed over from the accepting thread. */
struct client {
    struct server *s;
    int fd;
};

/* A client's thread: serve its connection, give its slot back, close it. */
static void *client_main(void *arg)
{
    struct client *c = arg;

    c->s->serve(c->fd, c->s->arg);
    atomic_fetch_sub(&c->s->active, 1);     /* before close: whoever sees the
                                               close finds the slot free */
    close(c->fd);
    free(c);
    return NULL;
}

/* Start a detached thread to serve fd. Returns 0 or an errno value. */
static int spawn(struct server *s, int fd)
{
    struct client *c = malloc(sizeof *c);
    pthread_attr_t attr;
    pthread_t thread;
    int err;

    if (c == NULL)
        return ENOMEM;
    *c = (struct client){s, fd};
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, SERVER_STACK_SIZE);
    err = pthread_create(&thread, &attr, client_main, c);
    pthread_attr_destroy(&attr);
    if (err != 0)
        free(c);
    return err;
}

/* Refuse fd: over the bound, or no thread could be had for it. */
static void refuse(struct server *s, int fd)
{
    s->refuse(fd, s->arg);
    close(fd);
}

/* Wait a moment: no descriptor is free until some client is done. */
static void back_off(void)
{
    struct timespec pause = {0, 10 * 1000 * 1000};

    nanosleep(&pause, NULL);
}

/* Serve fd in a thread of its own, if a slot is free and a thread can be
 * had; otherwise refuse it. */
static void hand_over(struct server *s, int fd)
{
    if (atomic_fetch_add(&s->active, 1) >= s->max_clients || spawn(s, fd) != 0) {
        atomic_fetch_sub(&s->active, 1);
        refuse(s, fd);
    }
}
#endif

int server_run(struct server *s)
{
#if STAGE > 4
    for (;;) {
        int fd = sock_accept(s->listenfd);

        if (fd >= 0)
            hand_over(s, fd);
        else if (errno == EMFILE || errno == ENFILE)
            back_off();         /* no descriptor is free: not an error */
        else
            return -1;
    }
#else
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
#endif
}
