/* Unit tests of rio over socketpair(2): no ports, no network.
 *
 * Most cases use a SOCK_SEQPACKET pair, which keeps the boundaries of writes:
 * each read(2) returns exactly one write. That makes short reads and lines
 * split across reads happen every time, with no threads and no timing. A
 * read or write that a signal interrupts is made to happen every time too,
 * with inject.h. */
#include "inject.h"
#include "rio.h"
#include "unit.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAXCHUNKS 8
#define MAXLINES 6

struct line_case {
    const char *what;
    struct bytes in;                    /* everything the peer sends */
    size_t maxlen;                      /* rio_readline's buffer size */
    struct {
        ssize_t ret;                    /* expected return */
        struct bytes out;               /* expected bytes in the buffer */
    } lines[MAXLINES];                  /* until ret == 0 (EOF) */
};

static const struct line_case line_cases[] = {
    {"one line", B("hello\n"), 64, {{6, B("hello\n")}, {0, B("")}}},
    {"two lines in one write", B("a\nbc\n"), 64,
     {{2, B("a\n")}, {3, B("bc\n")}, {0, B("")}}},
    {"CRLF kept", B("GET / HTTP/1.0\r\n\r\n"), 64,
     {{16, B("GET / HTTP/1.0\r\n")}, {2, B("\r\n")}, {0, B("")}}},
    {"empty lines", B("\n\n"), 64, {{1, B("\n")}, {1, B("\n")}, {0, B("")}}},
    {"EOF mid-line", B("abc"), 64, {{3, B("abc")}, {0, B("")}}},
    {"EOF mid-line after a line", B("x\ny"), 64,
     {{2, B("x\n")}, {1, B("y")}, {0, B("")}}},
    {"NUL bytes inside a line", B("a\0b\0\n"), 64, {{5, B("a\0b\0\n")}, {0, B("")}}},
    {"line exactly fills the buffer", B("abcdef\n"), 8, {{7, B("abcdef\n")}, {0, B("")}}},
    {"line one byte too long", B("abcdefg\n"), 8,
     {{RIO_TOOLONG, B("abcdefg")}, {1, B("\n")}, {0, B("")}}},
    {"too long, then the rest of it", B("abcdefghijklmnop\nq\n"), 8,
     {{RIO_TOOLONG, B("abcdefg")}, {RIO_TOOLONG, B("hijklmn")}, {3, B("op\n")},
      {2, B("q\n")}, {0, B("")}}},
    {"line fills the buffer, then EOF", B("abcdefg"), 8,
     {{RIO_TOOLONG, B("abcdefg")}, {0, B("")}}},
    {"nothing at all", B(""), 64, {{0, B("")}}},
};

/* How a case's input is cut into writes. */
enum split { WHOLE, BYTE_BY_BYTE, AT_POINT };

/* A SOCK_SEQPACKET socketpair; the test fails if there is none. */
static int seqpair(int sv[2])
{
    int r = socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);

    EXPECT(r == 0, "socketpair(SOCK_SEQPACKET): %s", strerror(errno));
    return r;
}

/* Send in as writes cut as split says (at byte at, for AT_POINT). */
static void send_split(int fd, struct bytes in, enum split how, size_t at)
{
    size_t off = 0;

    while (off < in.n) {
        size_t k = how == WHOLE ? in.n - off
                 : how == BYTE_BY_BYTE ? 1
                 : off < at ? at - off : in.n - off;
        if (write(fd, in.p + off, k) != (ssize_t)k)
            break;
        off += k;
    }
}

/* Show up to 40 bytes of b, escaped, in out[size]. */
static const char *show(const char *p, size_t n, char *out, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; i < n && i < 40 && o + 5 < size; i++) {
        unsigned char c = (unsigned char)p[i];
        o += (size_t)snprintf(out + o, size - o, c == '\n' ? "\\n" : c == '\r' ? "\\r"
                              : c >= 32 && c < 127 ? "%c" : "\\x%02x", c);
    }
    snprintf(out + o, size - o, "%s", n > 40 ? "..." : "");
    return out;
}

/* Read c's lines from a reader fed as how/at says, and check each one. */
static void check_line_case(const struct line_case *c, enum split how, size_t at)
{
    char buf[64], got[200], want[200], cut[64];
    struct rio rio;
    int sv[2];

    if (seqpair(sv) < 0)
        return;
    snprintf(cut, sizeof cut, how == WHOLE ? "in one write" : how == BYTE_BY_BYTE
             ? "a byte per write" : "in two writes, cut after byte %zu", at);
    send_split(sv[1], c->in, how, at);
    close(sv[1]);
    rio_init(&rio, sv[0]);
    for (int i = 0; i < MAXLINES; i++) {
        ssize_t r = rio_readline(&rio, buf, c->maxlen);
        ssize_t n = r == RIO_TOOLONG ? (ssize_t)c->maxlen - 1 : r;
        int ok = r == c->lines[i].ret && (n < 0 || ((size_t)n == c->lines[i].out.n &&
                 memcmp(buf, c->lines[i].out.p, (size_t)n) == 0 && buf[n] == '\0'));

        EXPECT(ok, "%s, sent %s, maxlen %zu: call %d returned %zd \"%s\", "
               "expected %zd \"%s\"", c->what, cut, c->maxlen, i + 1, r,
               n > 0 ? show(buf, (size_t)n, got, sizeof got) : "",
               c->lines[i].ret, show(c->lines[i].out.p, c->lines[i].out.n, want, sizeof want));
        if (!ok || r == 0)
            break;
    }
    close(sv[0]);
}

static void test_readline_table(void)
{
    for (size_t i = 0; i < sizeof line_cases / sizeof line_cases[0]; i++)
        check_line_case(&line_cases[i], WHOLE, 0);
}

static void test_readline_byte_by_byte(void)
{
    for (size_t i = 0; i < sizeof line_cases / sizeof line_cases[0]; i++)
        check_line_case(&line_cases[i], BYTE_BY_BYTE, 0);
}

static void test_readline_every_split(void)
{
    for (size_t i = 0; i < sizeof line_cases / sizeof line_cases[0]; i++)
        for (size_t at = 1; at < line_cases[i].in.n; at++)
            check_line_case(&line_cases[i], AT_POINT, at);
}

/* Deterministic bytes, all 256 values, for payload tests. */
static char *pattern(size_t n, unsigned seed)
{
    char *p = malloc(n);

    for (size_t i = 0; p != NULL && i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (char)(seed >> 16);
    }
    return p;
}

/* Offset of the first byte where a and b differ, or n if none does. */
static size_t first_diff(const char *a, const char *b, size_t n)
{
    size_t i = 0;

    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* A line longer than rio's own buffer: whole when it fits, in pieces if not. */
static void test_readline_longer_than_rio_buffer(void)
{
    size_t len = 3 * RIO_BUFSIZE + 17;
    char *line = pattern(len, 7), *buf = malloc(len + 1);
    struct rio rio;
    ssize_t r;
    int sv[2];

    for (size_t i = 0; line != NULL && i < len - 1; i++)
        line[i] = line[i] == '\n' ? ' ' : line[i];
    if (line == NULL || buf == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        goto done;
    line[len - 1] = '\n';
    rio_writen(sv[1], line, len);       /* fits in the socket's buffer */
    rio_writen(sv[1], line, len);
    close(sv[1]);
    rio_init(&rio, sv[0]);
    r = rio_readline(&rio, buf, len + 1);
    EXPECT(r == (ssize_t)len && first_diff(buf, line, len) == len,
           "a %zu-byte line with maxlen %zu: returned %zd, first wrong byte at %zu",
           len, len + 1, r, first_diff(buf, line, len));
    r = rio_readline(&rio, buf, RIO_BUFSIZE);
    EXPECT(r == RIO_TOOLONG && first_diff(buf, line, RIO_BUFSIZE - 1) == RIO_BUFSIZE - 1,
           "the same line with maxlen %d: returned %zd, expected RIO_TOOLONG (%d) "
           "and the line's first %d bytes", RIO_BUFSIZE, r, RIO_TOOLONG, RIO_BUFSIZE - 1);
    close(sv[0]);
done:
    free(line);
    free(buf);
}

struct read_step {
    enum { READ, READNB, READLINE } call;
    size_t n;                           /* bytes asked for (maxlen for READLINE) */
    struct bytes want;                  /* what must come back */
};

static const char *const call_names[] = {
    [READ] = "rio_read", [READNB] = "rio_readnb", [READLINE] = "rio_readline",
};

struct read_case {
    const char *what;
    struct bytes writes[MAXCHUNKS];     /* each arrives as one read(2) */
    struct read_step steps[MAXLINES];   /* until a step wants 0 bytes */
};

static const struct read_case read_cases[] = {
    {"rio_read hands out what is buffered, without waiting for more",
     {B("abcdef"), B("gh")},
     {{READ, 4, B("abcd")}, {READ, 4, B("ef")}, {READ, 4, B("gh")}, {READ, 4, B("")}}},
    {"rio_readnb gathers short reads",
     {B("ab"), B("cde"), B("f"), B("ghij")},
     {{READNB, 6, B("abcdef")}, {READNB, 4, B("ghij")}, {READNB, 4, B("")}}},
    {"rio_readnb returns what came before EOF",
     {B("abc")}, {{READNB, 10, B("abc")}, {READNB, 10, B("")}}},
    {"a line, then a body from the same buffer",
     {B("HEAD\nbody"), B("more")},
     {{READLINE, 64, B("HEAD\n")}, {READNB, 8, B("bodymore")}, {READ, 8, B("")}}},
    {"binary with NUL bytes", {B("\0\0\xff"), B("\n\0")},
     {{READNB, 5, B("\0\0\xff\n\0")}, {READNB, 1, B("")}}},
};

static void check_read_case(const struct read_case *c)
{
    char buf[64], got[200], want[200];
    struct rio rio;
    int sv[2];

    if (seqpair(sv) < 0)
        return;
    for (int i = 0; i < MAXCHUNKS && c->writes[i].p != NULL; i++)
        send_split(sv[1], c->writes[i], WHOLE, 0);
    close(sv[1]);
    rio_init(&rio, sv[0]);
    for (int i = 0; i < MAXLINES && c->steps[i].n > 0; i++) {
        const struct read_step *s = &c->steps[i];
        ssize_t r = s->call == READ ? rio_read(&rio, buf, s->n)
                  : s->call == READNB ? rio_readnb(&rio, buf, s->n)
                  : rio_readline(&rio, buf, s->n);
        int ok = r == (ssize_t)s->want.n && memcmp(buf, s->want.p, s->want.n) == 0;

        EXPECT(ok, "%s: step %d, %s(rp, buf, %zu), returned %zd \"%s\", expected %zu \"%s\"",
               c->what, i + 1, call_names[s->call], s->n, r,
               r > 0 ? show(buf, (size_t)r, got, sizeof got) : "", s->want.n,
               show(s->want.p, s->want.n, want, sizeof want));
        if (!ok || s->want.n == 0)
            break;
    }
    close(sv[0]);
}

static void test_read_table(void)
{
    for (size_t i = 0; i < sizeof read_cases / sizeof read_cases[0]; i++)
        check_read_case(&read_cases[i]);
}

struct writer {
    int fd;
    const char *buf;
    size_t n;
    ssize_t ret;                        /* what rio_writen returned */
    int err;                            /* errno after it */
};

static void *write_all(void *arg)
{
    struct writer *w = arg;

    w->ret = rio_writen(w->fd, w->buf, w->n);
    w->err = errno;
    return NULL;
}

static void on_signal(int sig)
{
    (void)sig;
}

struct storm {
    pthread_t targets[2];               /* the threads to interrupt */
    atomic_int done;                    /* set when the transfer is over */
};

/* Interrupt the target threads with SIGUSR1 until the transfer is over. */
static void *signal_storm(void *arg)
{
    struct storm *s = arg;

    while (!atomic_load(&s->done)) {
        pthread_kill(s->targets[0], SIGUSR1);
        pthread_kill(s->targets[1], SIGUSR1);
    }
    return NULL;
}

/* Send 1 MiB from a thread with rio_writen and read it in odd-sized pieces
 * with rio_readnb, optionally while signals interrupt both (no SA_RESTART,
 * so read and write fail with EINTR or return short counts). */
static void transfer(int with_signals)
{
    size_t n = 1 << 20, got = 0;
    char *data = pattern(n, 42), *buf = malloc(n);
    struct writer w = {.n = n, .buf = data};
    struct storm storm = {.targets = {pthread_self()}};
    struct sigaction sa = {.sa_handler = on_signal}, old;
    pthread_t writer, stormer;
    struct rio rio;
    int sv[2];

    if (data == NULL || buf == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        goto done;
    w.fd = sv[1];
    sigaction(SIGUSR1, &sa, &old);
    pthread_create(&writer, NULL, write_all, &w);
    storm.targets[1] = writer;
    if (with_signals)
        pthread_create(&stormer, NULL, signal_storm, &storm);
    rio_init(&rio, sv[0]);
    while (got < n) {
        ssize_t r = rio_readnb(&rio, buf + got, n - got < 1000 ? n - got : 1000);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    atomic_store(&storm.done, 1);       /* stop the storm before its targets end */
    if (with_signals)
        pthread_join(stormer, NULL);
    pthread_join(writer, NULL);
    close(sv[1]);
    sigaction(SIGUSR1, &old, NULL);
    EXPECT(w.ret == (ssize_t)n, "rio_writen of %zu bytes returned %zd (%s)", n, w.ret,
           w.ret < 0 ? strerror(w.err) : "short");
    EXPECT(got == n && first_diff(buf, data, n) == n,
           "read back %zu of %zu bytes; first wrong byte at offset %zu", got, n,
           first_diff(buf, data, got));
    close(sv[0]);
done:
    free(data);
    free(buf);
}

static void test_one_mib_from_a_thread(void)
{
    transfer(0);
}

static void test_one_mib_under_signals(void)
{
    transfer(1);
}

/* Writing to a peer that has gone is an error returned, not a crash. */
static void test_writen_peer_gone(void)
{
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    int sv[2];
    ssize_t r;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return;
    sigaction(SIGPIPE, &ign, &old);
    close(sv[0]);
    errno = 0;
    r = rio_writen(sv[1], "hello", 5);
    EXPECT(r == -1 && errno == EPIPE, "rio_writen to a closed peer returned %zd, errno %s; "
           "expected -1 and EPIPE", r, strerror(errno));
    sigaction(SIGPIPE, &old, NULL);
    close(sv[1]);
}

/* A write(2) that a signal interrupts before it has written anything fails
 * with EINTR: rio_writen calls it again. inject.h makes the first write
 * fail so, every run (one_mib_under_signals only hopes a signal lands). */
static void test_writen_eintr(void)
{
    char got[16];
    ssize_t r, n = 0, k;
    int sv[2], err;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return (void)EXPECT(0, "socketpair: %s", strerror(errno));
    inject_fail_next(INJECT_WRITE, sv[1], EINTR);
    errno = 0;
    r = rio_writen(sv[1], "hello\n", 6);
    err = errno;
    close(sv[1]);
    while (n < (ssize_t)sizeof got && (k = read(sv[0], got + n, sizeof got - (size_t)n)) > 0)
        n += k;
    close(sv[0]);
    if (r == -1 && err == EINTR)
        EXPECT(0, "rio_writen returned -1 with errno EINTR: its write(2) was interrupted by a "
               "signal before it wrote anything (EINTR): call write again");
    else
        EXPECT(r == 6 && n == 6 && memcmp(got, "hello\n", 6) == 0, "rio_writen(fd, "
               "\"hello\\n\", 6), its first write(2) interrupted by a signal (EINTR), "
               "returned %zd%s%s, and the peer got %zd bytes; expected 6, and \"hello\\n\"",
               r, r < 0 ? " with errno " : "", r < 0 ? strerror(err) : "", n);
}

/* write(2) may write fewer bytes than asked: inject.h makes rio_writen's
 * first write write 4 of 12. rio_writen writes the rest, from where the
 * short write stopped, and returns 12. */
static void test_writen_short_write(void)
{
    char got[32] = "";
    ssize_t r, n = 0, k;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return (void)EXPECT(0, "socketpair: %s", strerror(errno));
    inject_short_next(sv[1], 4);
    r = rio_writen(sv[1], "hello, world", 12);
    close(sv[1]);
    while (n < (ssize_t)sizeof got - 1 &&
           (k = read(sv[0], got + n, sizeof got - 1 - (size_t)n)) > 0)
        n += k;
    got[n] = '\0';
    close(sv[0]);
    EXPECT(r == 12 && strcmp(got, "hello, world") == 0, "rio_writen(fd, \"hello, world\", "
           "12), its first write(2) short (4 bytes written), returned %zd, and the peer got "
           "%zd bytes \"%s\"; expected 12, and \"hello, world\": after a short write, "
           "move past what was written and write the rest", r, n, got);
}

/* A read(2) that a signal interrupts before it has read anything fails with
 * EINTR: when rio's buffer is empty, rio_read and rio_readline refill it
 * with a read that they call again then. inject.h makes that read fail so. */
static void test_read_eintr(void)
{
    for (int call = READ; call <= READLINE; call++) {
        char buf[64], got[200];
        struct rio rio;
        ssize_t r;
        int sv[2], err;

        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
            return (void)EXPECT(0, "socketpair: %s", strerror(errno));
        if (write(sv[1], "hello\n", 6) != 6)
            EXPECT(0, "write: %s", strerror(errno));
        close(sv[1]);
        rio_init(&rio, sv[0]);
        inject_fail_next(INJECT_READ, sv[0], EINTR);
        errno = 0;
        r = call == READ ? rio_read(&rio, buf, sizeof buf)
          : call == READNB ? rio_readnb(&rio, buf, 6)
          : rio_readline(&rio, buf, sizeof buf);
        err = errno;
        close(sv[0]);
        if (r == -1 && err == EINTR)
            EXPECT(0, "%s returned -1 with errno EINTR: the read(2) that refills rio's empty "
                   "buffer was interrupted by a signal before it read anything (EINTR): call "
                   "read again", call_names[call]);
        else
            EXPECT(r == 6 && memcmp(buf, "hello\n", 6) == 0, "%s, the read(2) that refills "
                   "rio's buffer interrupted by a signal (EINTR), returned %zd \"%s\"%s%s; "
                   "expected 6 \"hello\\n\"", call_names[call], r,
                   r > 0 ? show(buf, (size_t)r, got, sizeof got) : "",
                   r < 0 ? ", errno " : "", r < 0 ? strerror(err) : "");
    }
}

/* A bad descriptor is an error returned with errno set. */
static void test_errors_returned(void)
{
    /* The test's own safety net: a read that ignores rio's deadline fails
     * (EAGAIN) after 2 s instead of waiting for ever. */
    struct timeval net = {.tv_sec = 2};
    char buf[16];
    struct rio rio;
    ssize_t r;
    int sv[2];

    rio_init(&rio, -1);
    errno = 0;
    r = rio_readline(&rio, buf, sizeof buf);
    EXPECT(r == -1 && errno == EBADF, "rio_readline on fd -1 returned %zd, errno %s; "
           "expected -1 and EBADF", r, strerror(errno));
    errno = 0;
    r = rio_read(&rio, buf, sizeof buf);
    EXPECT(r == -1 && errno == EBADF, "rio_read on fd -1 returned %zd, errno %s", r,
           strerror(errno));
    errno = 0;
    r = rio_writen(-1, "x", 1);
    EXPECT(r == -1 && errno == EBADF, "rio_writen on fd -1 returned %zd, errno %s", r,
           strerror(errno));

    /* A deadline that passes with nothing to read is an error too. */
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return (void)EXPECT(0, "socketpair: %s", strerror(errno));
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &net, sizeof net);
    rio_init(&rio, sv[0]);
    rio_set_deadline(&rio, 50);
    errno = 0;
    r = rio_read(&rio, buf, sizeof buf);
    EXPECT(r == -1 && errno == ETIMEDOUT, "rio_read with a 50 ms deadline "
           "(rio_set_deadline) and nothing to read returned %zd, errno %s; expected -1 "
           "and ETIMEDOUT: rio_fill calls rio_wait before each read(2)", r, strerror(errno));
    errno = 0;
    r = rio_readline(&rio, buf, sizeof buf);
    EXPECT(r == -1 && errno == ETIMEDOUT, "rio_readline after its deadline passed, with "
           "nothing to read, returned %zd, errno %s; expected -1 and ETIMEDOUT", r,
           strerror(errno));
    close(sv[0]);
    close(sv[1]);
}

UNIT_SUITE(rio,
           {"readline_table", test_readline_table},
           {"readline_byte_by_byte", test_readline_byte_by_byte},
           {"readline_every_split", test_readline_every_split},
           {"readline_longer_than_rio_buffer", test_readline_longer_than_rio_buffer},
           {"read_table", test_read_table},
           {"one_mib_from_a_thread", test_one_mib_from_a_thread},
           {"one_mib_under_signals", test_one_mib_under_signals},
           {"writen_peer_gone", test_writen_peer_gone},
           {"writen_eintr", test_writen_eintr},
           {"writen_short_write", test_writen_short_write},
           {"read_eintr", test_read_eintr},
           {"errors_returned", test_errors_returned})
