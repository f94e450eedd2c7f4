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

/* ==== stage 4 exercise: helpers 1 ==== */
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
/* ==== end of stage 4 exercise: helpers 1 ==== */

int server_run(struct server *s)
{
    /* ==== stage 4 exercise: server_run ==== */
    for (;;) {
        int fd = sock_accept(s->listenfd);

        if (fd >= 0)
            hand_over(s, fd);
        else if (errno == EMFILE || errno == ENFILE)
            back_off();         /* no descriptor is free: not an error */
        else
            return -1;
    }
    /* ==== end of stage 4 exercise: server_run ==== */
}
