/* Unit tests of log: the line formatter as a table (fields, widths, tags,
 * escaping), and log_write from many threads at once into one file. */
#include "log.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Whether line[0..len) is the whole line some writer wrote: format_cases[0]'s,
 * with the writer's name for the client. */
static int whole_line(const char *line, size_t len)
{
    const char *want = format_cases[0].line, *client = strstr(want, "127.0.0.1");
    size_t head = (size_t)(client - want);

    return len == strlen(want) && memcmp(line, want, head) == 0 &&
           memcmp(line + head, "writer-", 7) == 0 &&
           memcmp(line + head + 9, client + 9, len - head - 9) == 0;
}

/* 8 threads write 500 lines each, at once: every line is whole. */
static void test_threads_never_interleave(void)
{
    char dir[] = "/tmp/unit-log-XXXXXX", path[64];
    struct writer w[8];
    pthread_t t[8];
    size_t len, count = 0, bad = 0;
    char *text;
    int fd;

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
        bad += !whole_line(p, (size_t)(nl + 1 - p));
    EXPECT(count == 4000 && bad == 0, "8 threads wrote 500 lines each: the log has %zu lines, "
           "%zu of them not whole (write each line with a single write(2))", count, bad);
    free(text);
    if (fd >= 0)
        close(fd);
    unlink(path);
    rmdir(dir);
}

/* log_open appends to what is there, and fails with errno where it cannot. */
static void test_open(void)
{
    char dir[] = "/tmp/unit-log-XXXXXX", path[64], *text;
    size_t len;
    int fd;

    if (mkdtemp(dir) == NULL)
        return (void)EXPECT(0, "mkdtemp: %s", strerror(errno));
    snprintf(path, sizeof path, "%s/log.txt", dir);
    for (int i = 0; i < 2; i++) {
        fd = log_open(path);
        if (fd >= 0 && log_write(fd, &format_cases[0].e) < 0)
            EXPECT(0, "log_write: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    text = slurp(path, &len);
    EXPECT(len == 2 * strlen(format_cases[0].line), "two opens and a line each left %zu "
           "bytes, expected two lines: does log_open truncate (use O_APPEND, not O_TRUNC)?",
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
           {"open", test_open})
