/* The CUnit runner: runs every registered test, or those named on the command
 * line, each in a child process, and prints one line per test:
 *
 *   PASS     rio/readline_split
 *   FAIL     rio/readline_toolong
 *            test_rio.c:88: ...what was expected, what came...
 *   FAIL     http/errors (11 of 12 rows pass)
 *   CRASH    rio/readnb_eof (Segmentation fault)
 *   TIMEOUT  sock/connect_refused (no result after 10 s)
 *
 * and a closing line "N passed, N failed". Exits 0 only if every test passed.
 *
 * Those lines are for people. The grader takes each test's verdict from
 * --verdicts FD instead, a descriptor it opened, where only the runner's
 * parent process writes, once a test's child has ended: the parent judges,
 * from what the child told it through a pipe of its own just before it
 * exited. Code under test that prints "PASS ..." (or exits early with
 * status 0) so gains nothing (docs/instructors.md, "What a submission can
 * forge").
 *
 * usage: unit [--list] [--no-fork] [--timeout SECONDS] [--verdicts FD]
 *             [SUITE | SUITE/TEST]... */
#include "unit.h"
#include "inject.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Under AddressSanitizer, LeakSanitizer can check for leaks when asked: a
 * test's process ends with _exit, which skips its own check at exit. */
#if defined(__SANITIZE_ADDRESS__)       /* gcc */
#define UNIT_UNDER_ASAN 1
#elif defined(__has_feature)            /* clang */
#if __has_feature(address_sanitizer)
#define UNIT_UNDER_ASAN 1
#endif
#endif
#ifdef UNIT_UNDER_ASAN
#include <sanitizer/lsan_interface.h>
#endif

enum verdict { PASS, FAIL, CRASH, TIMEOUT };

/* How a test ended, and for a table scored by row (unit_row), its rows. */
struct outcome {
    enum verdict v;
    unsigned rows, failed_rows;
};

static const char *const verdict_names[] = {
    [PASS] = "PASS", [FAIL] = "FAIL", [CRASH] = "CRASH", [TIMEOUT] = "TIMEOUT",
};

struct options {
    int list;                   /* print the test names and stop */
    int fork;                   /* run each test in a child (default) */
    unsigned timeout;           /* seconds a test may take */
    int verdicts;               /* where the verdicts go for the grader, or -1 */
    char **names;               /* SUITE or SUITE/TEST filters; none: all */
    int nnames;
};

static struct unit_suite *suites, **suites_tail = &suites;
static unsigned rows, failed_rows, row_mark;   /* the running test's rows so far */

void unit_register(struct unit_suite *s)
{
    *suites_tail = s;
    suites_tail = &s->next;
}

void unit_expect(int ok, const char *file, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (ok) {
        CU_assertImplementation(CU_TRUE, (unsigned)line, "", file, "", CU_FALSE);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    CU_assertImplementation(CU_FALSE, (unsigned)line, msg, file, "", CU_FALSE);
}

/* End the row under way, if any: it failed if an EXPECT failed in it. */
static void end_row(void)
{
    if (rows > 0 && CU_get_number_of_failures() > row_mark)
        failed_rows++;
    row_mark = CU_get_number_of_failures();
}

void unit_row(void)
{
    end_row();
    rows++;
}

/* Whether suite/test is selected by the command line's names. */
static int selected(const struct options *o, const char *suite, const char *test)
{
    size_t n = strlen(suite);

    if (o->nnames == 0)
        return 1;
    for (int i = 0; i < o->nnames; i++) {
        const char *f = o->names[i];
        if (strncmp(f, suite, n) == 0 &&
            (f[n] == '\0' || (f[n] == '/' && strcmp(f + n + 1, test) == 0)))
            return 1;
    }
    return 0;
}

/* Print the first few failures CUnit recorded, one indented line each: the
 * first is usually the one to fix. */
static void print_failures(void)
{
    enum { SHOWN = 3 };
    unsigned n = 0;

    for (CU_pFailureRecord f = CU_get_failure_list(); f != NULL; f = f->pNext, n++) {
        const char *file = strrchr(f->strFileName, '/');
        if (n >= SHOWN)
            continue;
        printf("         %s:%u: ", file ? file + 1 : f->strFileName, f->uiLineNumber);
        for (const char *c = f->strCondition; *c; c++) {   /* indent every line of it */
            if (*c == '\n')
                fputs("\n         ", stdout);
            else
                putchar(*c);
        }
        putchar('\n');
    }
    if (n > SHOWN)
        printf("         ... and %u more failed checks in this test\n", n - SHOWN);
}

/* What the test running in this process waits for (unit_waiting), and
 * where to tell the parent if the time runs out meanwhile. */
static const char *volatile waiting;
static int tell_fd = -1;

void unit_waiting(const char *what)
{
    waiting = what;
}

/* SIGALRM in a test's process: tell the parent what the test was waiting
 * for ("W what"), then die of the signal, as without this handler. */
static void on_alarm(int sig)
{
    const char *what = waiting;

    if (what != NULL && tell_fd >= 0 && write(tell_fd, "W ", 2) == 2 &&
        write(tell_fd, what, strlen(what)) < 0)
        tell_fd = -1;           /* the parent hears less: nothing more to do */
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Whether the test leaked memory, under AddressSanitizer (LeakSanitizer
 * prints what on stderr); 0 in other builds. */
static int leaked(void)
{
#ifdef UNIT_UNDER_ASAN
    return __lsan_do_recoverable_leak_check() != 0;
#else
    return 0;
#endif
}

/* Run one test here, print its verdict and failures; returns its outcome.
 * A leak found once it has run fails it, and every row with it. */
static struct outcome run_here(CU_pSuite s, CU_pTest t, const char *name)
{
    struct outcome r = {PASS, 0, 0};
    int leak;

    inject_reset();             /* no failure a test asked for outlives it */
    waiting = NULL;
    rows = failed_rows = row_mark = 0;
    CU_run_test(s, t);
    end_row();
    fflush(stdout);
    leak = leaked();
    r = (struct outcome){CU_get_number_of_failures() > 0 || leak ? FAIL : PASS, rows,
                         leak ? rows : failed_rows};
    if (leak) {
        printf("%-8s %s\n", verdict_names[r.v], name);
        printf("         LeakSanitizer: memory allocated during this test was never freed "
               "(its report is above)\n");
        print_failures();
        fflush(stdout);
        return r;
    }
    if (r.v == FAIL && r.rows > 0)
        printf("%-8s %s (%u of %u rows pass)\n", verdict_names[r.v], name,
               r.rows - r.failed_rows, r.rows);
    else
        printf("%-8s %s\n", verdict_names[r.v], name);
    print_failures();
    fflush(stdout);
    return r;
}

/* How a child that ran a test ended, as the verdict the parent gives it:
 * it told the parent told ('P' or 'F', or 0 if it told nothing) before
 * exiting, or, if its time ran out, what it was waiting for (waited). */
static enum verdict judge(const char *name, int status, char told, const char *waited,
                          unsigned timeout)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && told != 0)
        return told == 'P' ? PASS : FAIL;
    if (WIFEXITED(status)) {    /* exit() before its verdict: code under test, or a sanitizer */
        printf("%-8s %s (exited with status %d before the test ended)\n", verdict_names[CRASH],
               name, WEXITSTATUS(status));
        return CRASH;
    }
    if (WTERMSIG(status) == SIGALRM) {
        printf("%-8s %s (no result after %u s%s%s)\n", verdict_names[TIMEOUT], name, timeout,
               *waited ? ", waiting for " : "", waited);
        return TIMEOUT;
    }
    printf("%-8s %s (%s)\n", verdict_names[CRASH], name, strsignal(WTERMSIG(status)));
    return CRASH;
}

/* Tell the parent, through fd, how the test went ("P" or "F", then its
 * rows and failed rows); returns the child's exit status. */
static int tell(int fd, struct outcome r)
{
    char msg[64];
    int n = snprintf(msg, sizeof msg, "%c %u %u", r.v == PASS ? 'P' : 'F', r.rows, r.failed_rows);

    return write(fd, msg, (size_t)n) == n ? 0 : 3;
}

/* What the child told through fd: tell()'s verdict, into *told and *r's
 * rows, or on_alarm()'s wait, into waited[size]. */
static void heard(int fd, char *told, struct outcome *r, char *waited, size_t size)
{
    char msg[256];
    ssize_t n;

    fcntl(fd, F_SETFL, O_NONBLOCK);     /* a process the test left may hold it open */
    n = read(fd, msg, sizeof msg - 1);
    *told = 0;
    *waited = '\0';
    if (n <= 0)
        return;
    msg[n] = '\0';
    if (msg[0] == 'W' && msg[1] == ' ') {
        snprintf(waited, size, "%s", msg + 2);
        return;
    }
    if (sscanf(msg, "%c %u %u", told, &r->rows, &r->failed_rows) != 3 ||
        (*told != 'P' && *told != 'F') || r->failed_rows > r->rows)
        *told = 0, r->rows = r->failed_rows = 0;
}

/* Run one test in a child process with a time limit; returns its outcome.
 * The child tells its verdict through a pipe just before it exits, so an
 * exit from the code under test is not taken for one. */
static struct outcome run_forked(CU_pSuite s, CU_pTest t, const char *name,
                                 unsigned timeout)
{
    struct outcome r = {CRASH, 0, 0};
    int status, told_fd[2];
    char told, waited[256];
    pid_t pid;

    fflush(stdout);
    if (pipe(told_fd) < 0) {
        perror("unit: pipe");
        return r;
    }
    if ((pid = fork()) < 0) {
        perror("unit: fork");
        close(told_fd[0]);
        close(told_fd[1]);
        return r;
    }
    if (pid == 0) {
        close(told_fd[0]);
        tell_fd = told_fd[1];
        signal(SIGALRM, on_alarm);
        alarm(timeout);
        _exit(tell(told_fd[1], run_here(s, t, name)));
    }
    close(told_fd[1]);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            close(told_fd[0]);
            return r;
        }
    heard(told_fd[0], &told, &r, waited, sizeof waited);
    close(told_fd[0]);
    r.v = judge(name, status, told, waited, timeout);
    if (r.v != FAIL)
        r.rows = r.failed_rows = 0;
    return r;
}

/* Give the grader test name's outcome r, on o->verdicts if it is open:
 * "VERDICT suite/test", and " rows=PASSED/ROWS" for a table scored by row
 * that failed. */
static void give_verdict(const struct options *o, const char *name, struct outcome r)
{
    if (o->verdicts < 0)
        return;
    if (r.v == FAIL && r.rows > 0)
        dprintf(o->verdicts, "%s %s rows=%u/%u\n", verdict_names[r.v], name,
                r.rows - r.failed_rows, r.rows);
    else
        dprintf(o->verdicts, "%s %s\n", verdict_names[r.v], name);
}

/* Register the suites with CUnit and run (or list) the selected tests.
 * Returns the number of tests that did not pass, or -1 if none was selected. */
static int run_all(const struct options *o)
{
    int ran = 0, failed = 0;

    for (struct unit_suite *us = suites; us != NULL; us = us->next) {
        CU_pSuite s = CU_add_suite(us->name, NULL, NULL);
        for (size_t i = 0; s != NULL && i < us->ntests; i++) {
            const struct unit_test *ut = &us->tests[i];
            CU_pTest t = CU_add_test(s, ut->name, ut->fn);
            char name[256];

            if (t == NULL || !selected(o, us->name, ut->name))
                continue;
            snprintf(name, sizeof name, "%s/%s", us->name, ut->name);
            ran++;
            if (o->list)
                puts(name);
            else {
                struct outcome r = o->fork ? run_forked(s, t, name, o->timeout)
                                           : run_here(s, t, name);
                give_verdict(o, name, r);
                failed += r.v != PASS;
            }
        }
    }
    if (CU_get_error() != CUE_SUCCESS)
        fprintf(stderr, "unit: CUnit: %s\n", CU_get_error_msg());
    if (!o->list)
        printf("%d passed, %d failed\n", ran - failed, failed);
    return ran == 0 ? -1 : failed;
}

/* Parse argv into o. Returns 0, or -1 after printing the usage line. */
static int parse_args(int argc, char **argv, struct options *o)
{
    int i;

    *o = (struct options){.fork = 1, .timeout = 10, .verdicts = -1};
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--list") == 0)
            o->list = 1;
        else if (strcmp(argv[i], "--no-fork") == 0)
            o->fork = 0;
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0)
            o->timeout = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--verdicts") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 2)
            o->verdicts = atoi(argv[++i]);
        else
            goto usage;
    }
    o->names = argv + i;
    o->nnames = argc - i;
    return 0;
usage:
    fprintf(stderr, "usage: unit [--list] [--no-fork] [--timeout SECONDS] [--verdicts FD] "
                    "[SUITE | SUITE/TEST]...\n");
    return -1;
}

int main(int argc, char **argv)
{
    struct options o;
    int failed;

    if (parse_args(argc, argv, &o) < 0)
        return 2;
    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "unit: CUnit: %s\n", CU_get_error_msg());
        return 2;
    }
    failed = run_all(&o);
    CU_cleanup_registry();
    if (failed < 0) {
        fprintf(stderr, "unit: no test matches the names given (try --list)\n");
        return 2;
    }
    return failed > 0 ? 1 : 0;
}
