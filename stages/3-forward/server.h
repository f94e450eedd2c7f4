/* server: serve each client in a thread of its own, with a bound on how many
 * are served at once. */
#ifndef SERVER_H
#define SERVER_H

#include <stdatomic.h>

/* Each client thread's stack: a modest size, so a thousand clients fit in
 * memory. What a thread keeps on its stack must fit with room to spare.
 * ThreadSanitizer keeps some 800 KiB of state per thread in thread-local
 * storage, which glibc takes out of the thread's stack: with it, 256 KiB
 * overflow at the first forward, so threads get more. */
#if defined(__SANITIZE_THREAD__)        /* gcc */
#define SERVER_UNDER_TSAN 1
#elif defined(__has_feature)            /* clang */
#if __has_feature(thread_sanitizer)
#define SERVER_UNDER_TSAN 1
#endif
#endif
#ifdef SERVER_UNDER_TSAN
#define SERVER_STACK_SIZE (4096 * 1024)
#else
#define SERVER_STACK_SIZE (256 * 1024)
#endif

struct server {
    int listenfd;
    long max_clients;                   /* at most this many served at once */
    void (*serve)(int connfd, void *arg);   /* serves one client, in its own thread */
    void (*refuse)(int connfd, void *arg);  /* answers a client over the bound, at once */
    void *arg;                          /* handed to serve and refuse */
    atomic_long active;                 /* clients being served now */
};

/* Accept clients on s->listenfd and serve each in a new detached thread,
 * which calls s->serve(connfd, s->arg). A client that would make more than
 * s->max_clients at once gets s->refuse(connfd, s->arg) instead, in the
 * accepting thread. The server closes each connection once serve or refuse
 * returns, and frees what it allocated for it. Returns -1 with errno set
 * only when accepting fails for good (listenfd broken). */
int server_run(struct server *s);

#endif
