/* unit: table-driven CUnit tests, each run in a process of its own.
 *
 * A test file lists its tests with UNIT_SUITE(name, {"test", fn}, ...). The
 * runner (unit.c) runs each test in a child process with a time limit, so a
 * crash or a hang fails that test alone, and reports it as suite/test. */
#ifndef UNIT_H
#define UNIT_H

#include <CUnit/CUnit.h>
#include <stddef.h>

struct unit_test {
    const char *name;           /* as the rubric and students see it */
    void (*fn)(void);
};

struct unit_suite {
    const char *name;
    const struct unit_test *tests;
    size_t ntests;
    struct unit_suite *next;    /* the runner's list of suites */
};

/* Add s to the runner's suites; UNIT_SUITE calls it before main. */
void unit_register(struct unit_suite *s);

/* Record a failed assertion at file:line unless ok, with a printf-style
 * message that says what was expected and what came instead. */
void unit_expect(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Begin the next row of a table test that is scored by row: such a test
 * earns its points in proportion to its rows in which no EXPECT failed
 * (the runner tells the grader "rows=PASSED/ROWS"). A test that never calls
 * it is all or nothing. */
void unit_row(void);

/* Say what the test waits for next, until it says otherwise (NULL:
 * nothing): a test that runs out of time is reported as waiting for it
 * ("no result after 10 s, waiting for framing_relay to return"). what must
 * outlive the wait (a string literal), and holds no parentheses. */
void unit_waiting(const char *what);

/* Bytes with a length, so that a table's cases can hold '\0'. */
struct bytes {
    const char *p;
    size_t n;
};
#define B(s) {s, sizeof s - 1}

#define EXPECT(ok, ...) unit_expect((ok) != 0, __FILE__, __LINE__, __VA_ARGS__)

#define UNIT_SUITE(sname, ...)                                                \
    static const struct unit_test sname##_tests[] = {__VA_ARGS__};            \
    static struct unit_suite sname##_suite = {                                \
        #sname, sname##_tests, sizeof sname##_tests / sizeof sname##_tests[0], \
        NULL};                                                                \
    __attribute__((constructor)) static void sname##_register(void)           \
    {                                                                         \
        unit_register(&sname##_suite);                                        \
    }

#endif
