/* Unit tests of log: the line formatter as a table (fields, widths, tags,
 * escaping), log_write from many threads at once into one file, one write(2)
 * per line (seen through a SOCK_SEQPACKET socket, which keeps each write a
 * record of its own), and log_write's failures (inject.h fails a write, or
 * makes it short). The tests of log_write and log_open compare with what
 * log_format makes, or write lines of their own, so that a bug in
 * log_format fails log_format's tests alone. */
#include "inject.h"
#include "log.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define S(lit) {lit, sizeof lit - 1}

struct format_case {
    const char *what;
    struct log_entry e;
    const char *line;                   /* what log_format must write */
};

static const struct format_case format_cases[] = {
    {"a miss",
     {{1764255600, 123456789}, 45, "127.0.0.1", LOG_MISS, 200, 1534, S("GET"),
      S("http://127.0.0.1:9000/a.html"), "127.0.0.1", "text/html"},
     "1764255600.123     45 127.0.0.1 TCP_MISS/200 1534 GET http://127.0.0.1:9000/a.html - "
     "HIER_DIRECT/127.0.0.1 text/html\n"},
    {"a request the parser refused",
     {{1764255601, 5000000}, 0, "::1", LOG_NONE, 400, 219, S(""), S(""), "", "text/html"},
     "1764255601.005      0 ::1 NONE_NONE/400 219 NONE error:invalid-request - HIER_NONE/- "
     "text/html\n"},
    {"a client over the bound",
     {{1, 999000000}, 1234567, "10.0.0.1", LOG_DENIED, 503, 230, S("GET"), S("http://h/"), "",
      "text/html"},
     "1.999 1234567 10.0.0.1 TCP_DENIED/503 230 GET http://h/ - HIER_NONE/- text/html\n"},
    {"a hit, with no type", {{7, 0}, 2, "127.0.0.1", LOG_HIT, 200, 10, S("GET"), S("http://h/x"),
                             "", ""},
     "7.000      2 127.0.0.1 TCP_HIT/200 10 GET http://h/x - HIER_NONE/- -\n"},
    {"a tunnel", {{7, 0}, 9, "127.0.0.1", LOG_TUNNEL, 200, 5000, S("CONNECT"), S("h:443"),
                  "192.0.2.7", ""},
     "7.000      9 127.0.0.1 TCP_TUNNEL/200 5000 CONNECT h:443 - HIER_DIRECT/192.0.2.7 -\n"},
    {"a miss the origin answered 404",
     {{7, 0}, 1, "127.0.0.1", LOG_MISS, 404, 99, S("HEAD"), S("http://h/n"), "127.0.0.1",
      "text/plain; charset=utf-8"},
     "7.000      1 127.0.0.1 TCP_MISS/404 99 HEAD http://h/n - HIER_DIRECT/127.0.0.1 "
     "text/plain;%20charset=utf-8\n"},
    {"CR and LF in a URL cannot make a line",
     {{7, 0}, 1, "127.0.0.1", LOG_MISS, 200, 1, S("GET"), S("http://h/a\r\n7.000 forged"),
      "127.0.0.1", "x"},
     "7.000      1 127.0.0.1 TCP_MISS/200 1 GET http://h/a%0D%0A7.000%20forged - "
     "HIER_DIRECT/127.0.0.1 x\n"},
    {"tab, DEL, NUL and non-ASCII bytes are escaped",
     {{7, 0}, 1, "127.0.0.1", LOG_MISS, 200, 1, S("GET"), S("http://h/\t\x7f\0\xc3\xa9"),
      "127.0.0.1", "x"},
     "7.000      1 127.0.0.1 TCP_MISS/200 1 GET http://h/%09%7F%00%C3%A9 - "
     "HIER_DIRECT/127.0.0.1 x\n"},
    {"a status of three digits, always", {{7, 0}, 1, "c", LOG_NONE, 0, 0, S("GET"), S("u"), "",
                                          ""},
     "7.000      1 c NONE_NONE/000 0 GET u - HIER_NONE/- -\n"},
};

static void test_format_table(void)
{
    char line[LOG_LINE_MAX];

    for (size_t i = 0; i < sizeof format_cases / sizeof format_cases[0]; i++) {
        const struct format_case *c = &format_cases[i];
        int n;

        unit_row();             /* scored by row: each is a field's format */
        n = log_format(&c->e, line, sizeof line);
        EXPECT(n == (int)strlen(c->line) && strcmp(line, c->line) == 0,
               "%s: log_format returned %d:\n  %s  expected %zu:\n  %s", c->what, n,
               n > 0 ? line : "(nothing)\n", strlen(c->line), c->line);
    }
}

static void test_format_too_small(void)
{
    char line[LOG_LINE_MAX];
    size_t need = strlen(format_cases[0].line) + 1;     /* the line and its NUL */
    int n = log_format(&format_cases[0].e, line, 32);

    EXPECT(n == -1, "log_format of a %zu-byte line into 32 bytes returned %d, expected -1",
           need - 1, n);
    n = log_format(&format_cases[0].e, line, need - 1);
    EXPECT(n == -1, "log_format of a %zu-byte line into %zu bytes (room for the line, not its "
           "NUL) returned %d, expected -1", need - 1, need - 1, n);
    n = log_format(&format_cases[0].e, line, need);
    EXPECT(n == (int)need - 1, "log_format into exactly %zu bytes (the line and a NUL) "
           "returned %d, expected %zu", need, n, need - 1);
}

struct writer {
    int fd;
    int id;
    int lines;
};

static void *write_lines(void *arg)
{
    struct writer *w = arg;
    struct log_entry e = format_cases[0].e;

    snprintf(e.client, sizeof e.client, "writer-%02d", w->id);
    for (int i = 0; i < w->lines; i++)
        if (log_write(w->fd, &e) < 0)
            break;
    return NULL;
}

/* Read the whole file at path into a malloc'd string; *len gets its size. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    char *text = malloc(1 << 22);

    *len = f && text ? fread(text, 1, (1 << 22) - 1, f) : 0;
    if (text)
        text[*len] = '\0';
    if (f)
        fclose(f);
    return text;
}

/* The line log_format makes of writer id's entry (write_lines'), into
 * buf[size]; returns its length, or -1. The test of log_write compares
 * with this, not with format_table's lines, so that a bug in log_format
 * fails format_table alone. */
static int writer_line(int id, char *buf, size_t size)
{
    struct log_entry e = format_cases[0].e;

    snprintf(e.client, sizeof e.client, "writer-%02d", id);
    return log_format(&e, buf, size);
}

/* Whether line[0..len) is one of the 8 writers' lines, lines[0..8). */
static int whole_line(const char *line, size_t len, char lines[8][LOG_LINE_MAX])
{
    for (int i = 0; i < 8; i++)
        if (len == strlen(lines[i]) && memcmp(line, lines[i], len) == 0)
            return 1;
    return 0;
}

/* 8 threads write 500 lines each, at once: every line is whole. */
static void test_threads_never_interleave(void)
{
    char dir[] = "/tmp/unit-log-XXXXXX", path[64];
    static char lines[8][LOG_LINE_MAX];
    struct writer w[8];
    pthread_t t[8];
    size_t len, count = 0, bad = 0;
    char *text;
    int fd;

    for (int i = 0; i < 8; i++)
        if (writer_line(i, lines[i], sizeof lines[i]) < 0)
            return (void)EXPECT(0, "log_format returned -1 for a plain entry (format_table's "
                                "first, \"%s\"): this test of log_write needs log_format; "
                                "fix it first", format_cases[0].what);
    if (mkdtemp(dir) == NULL)
        return (void)EXPECT(0, "mkdtemp: %s", strerror(errno));
    snprintf(path, sizeof path, "%s/log.txt", dir);
    fd = log_open(path);
    EXPECT(fd >= 0, "log_open(%s) failed: %s", path, strerror(errno));
    for (int i = 0; fd >= 0 && i < 8; i++) {
        w[i] = (struct writer){fd, i, 500};
        pthread_create(&t[i], NULL, write_lines, &w[i]);
    }
    for (int i = 0; fd >= 0 && i < 8; i++)
        pthread_join(t[i], NULL);
    text = slurp(path, &len);
    for (char *p = text, *nl; text && (nl = strchr(p, '\n')) != NULL; p = nl + 1, count++)
        bad += !whole_line(p, (size_t)(nl + 1 - p), lines);
    EXPECT(count == 4000 && bad == 0, "8 threads wrote 500 lines each: the log has %zu lines, "
           "%zu of them not as log_format made them (torn or mixed: write each line with a "
           "single write(2), from a buffer of the calling thread's own)", count, bad);
    free(text);
    if (fd >= 0)
        close(fd);
    unlink(path);
    rmdir(dir);
}

/* What is waiting on fd (a SOCK_SEQPACKET socket): one record per write(2)
 * made on its peer. Returns how many records there were; recs[i] gets the
 * length of each of the first max (0 if none). */
static int records(int fd, size_t *recs, int max)
{
    char buf[LOG_LINE_MAX + 64];
    ssize_t r;
    int n = 0;

    while ((r = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) >= 0) {
        if (n < max)
            recs[n] = (size_t)r;
        n++;
    }
    return n;
}

/* log_write hands the kernel each line in one write(2), the only thing that
 * keeps threads' lines whole: a SOCK_SEQPACKET socket shows each write apart,
 * every run, where 8 threads writing at once catch two writes only when they
 * happen to land between them. */
static void test_write_one_call(void)
{
    const struct format_case *c = &format_cases[0];
    char line[LOG_LINE_MAX];
    size_t recs[4] = {0};
    int sv[2], n, len = log_format(&c->e, line, sizeof line);

    if (len < 0)
        return (void)EXPECT(0, "log_format returned -1 for %s: this test of log_write needs "
                            "log_format; fix it first", c->what);
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
        return (void)EXPECT(0, "socketpair: %s", strerror(errno));
    EXPECT(log_write(sv[0], &c->e) == 0, "log_write of %s: returned -1 (%s)", c->what,
           strerror(errno));
    n = records(sv[1], recs, 4);
    EXPECT(n == 1 && recs[0] == (size_t)len, "log_write of a %d-byte line (as log_format "
           "makes it) made %d write calls, of %zu, %zu, %zu... bytes; expected one write(2) of "
           "the whole line, '\\n' included, so that another thread's line cannot land inside "
           "it", len, n, recs[0], recs[1], recs[2]);
    close(sv[0]);
    close(sv[1]);
}

/* log_write returns -1 with errno set when its write fails (here ENOSPC, a
 * full disk, made by inject.h) and when the line does not fit in
 * LOG_LINE_MAX (EOVERFLOW): then it writes nothing, not a cut line that the
 * next one would be glued to. */
static void test_write_failures(void)
{
    struct log_entry e = format_cases[0].e;
    static char url[LOG_LINE_MAX];
    size_t recs[4] = {0};
    int sv[2], r, n, err;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
        return (void)EXPECT(0, "socketpair: %s", strerror(errno));
    inject_fail_next(INJECT_WRITE, sv[0], ENOSPC);
    errno = 0;
    r = log_write(sv[0], &e);
    EXPECT(inject_happened(), "log_write did not call write(2) on its descriptor");
    EXPECT(r == -1 && errno == ENOSPC, "log_write whose write(2) failed with ENOSPC returned %d, "
           "errno %s; expected -1, errno ENOSPC (its contract: -1 with errno set)", r,
           strerror(errno));
    records(sv[1], recs, 4);
    memset(url, 'a', sizeof url);
    e.url = (struct http_str){url, sizeof url};
    errno = 0;
    r = log_write(sv[0], &e);
    err = errno;
    n = records(sv[1], recs, 4);
    EXPECT(r == -1 && err == EOVERFLOW, "log_write of a line longer than LOG_LINE_MAX (a "
           "%zu-byte URL) returned %d, errno %s; expected -1, errno EOVERFLOW", sizeof url, r,
           strerror(err));
    EXPECT(n == 0, "log_write of a line longer than LOG_LINE_MAX wrote %d time(s), %zu bytes "
           "first; expected nothing written (a cut line has no newline: the next line would "
           "be glued to it)", n, recs[0]);
    close(sv[0]);
    close(sv[1]);
}

/* A short write (inject.h makes it write 10 bytes of the line) tears the
 * line: log_write returns -1 with errno set, and does not write the rest in
 * a second call, which another thread's line could land before. */
static void test_short_write_is_an_error(void)
{
    const struct format_case *c = &format_cases[0];
    size_t recs[4] = {0};
    int sv[2], r, n, err;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
        return (void)EXPECT(0, "socketpair: %s", strerror(errno));
    inject_short_next(sv[0], 10);
    errno = 0;
    r = log_write(sv[0], &c->e);
    err = errno;
    n = records(sv[1], recs, 4);
    EXPECT(r == -1 && err != 0, "log_write whose write(2) wrote 10 bytes of a %zu-byte line "
           "returned %d%s%s; expected -1 with errno set: a short write is an error here",
           strlen(c->line), r, r == -1 ? ", errno " : "", r == -1 ? strerror(err) : "");
    EXPECT(n == 1 && recs[0] == 10, "after a short write of 10 bytes of a %zu-byte line, "
           "log_write made %d write call(s) in all, of %zu, %zu, %zu... bytes; expected the "
           "one: writing the rest in another call lets another thread's line in between",
           strlen(c->line), n, recs[0], recs[1], recs[2]);
    close(sv[0]);
    close(sv[1]);
}

/* log_open appends to what is there, and fails with errno where it cannot. */
static void test_open(void)
{
    char dir[] = "/tmp/unit-log-XXXXXX", path[64], *text;
    const char *line = "a line\n";
    size_t len;
    int fd;

    if (mkdtemp(dir) == NULL)
        return (void)EXPECT(0, "mkdtemp: %s", strerror(errno));
    snprintf(path, sizeof path, "%s/log.txt", dir);
    for (int i = 0; i < 2; i++) {
        fd = log_open(path);
        if (fd >= 0 && write(fd, line, strlen(line)) != (ssize_t)strlen(line))
            EXPECT(0, "write to the descriptor log_open returned: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    text = slurp(path, &len);
    EXPECT(len == 2 * strlen(line), "log_open twice, with a 7-byte line written after each, "
           "left %zu bytes, expected 14: does log_open truncate (use O_APPEND, not O_TRUNC)?",
           len);
    free(text);
    unlink(path);
    snprintf(path, sizeof path, "%s/no/such/dir/log.txt", dir);
    errno = 0;
    fd = log_open(path);
    EXPECT(fd == -1 && errno == ENOENT, "log_open in a missing directory returned %d, errno %s",
           fd, strerror(errno));
    rmdir(dir);
}

UNIT_SUITE(log,
           {"format_table", test_format_table},
           {"format_too_small", test_format_too_small},
           {"threads_never_interleave", test_threads_never_interleave},
           {"write_one_call", test_write_one_call},
           {"write_failures", test_write_failures},
           {"short_write_is_an_error", test_short_write_is_an_error},
           {"open", test_open})
