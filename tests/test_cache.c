/* Unit tests of cache: LRU eviction and size accounting as tables of
 * operations, entries kept alive by their readers and freed by the last,
 * lookups that share the lock, keys, and the freshness rules with fixed
 * clocks. */
#include "cache.h"
#include "unit.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifdef SANITIZED
size_t __sanitizer_get_current_allocated_bytes(void);  /* the sanitizer's allocator */
#endif

#define MAXOPS 12

struct op {
    char what;                  /* 'I' insert, 'L' lookup (must hit), 'M' lookup (must miss) */
    const char *key;
    size_t size;                /* for 'I': the entry's bytes */
    size_t head;                /* for 'I': how many of them are its head */
};

struct lru_case {
    const char *name;
    size_t capacity, max_object;
    struct op ops[MAXOPS];
    const char *survivors;      /* keys that must be there at the end, in order */
};

static const struct lru_case lru_cases[] = {
    {"fits: nothing evicted", 100, 100,
     {{'I', "a", 30, 0}, {'I', "b", 30, 0}, {'I', "c", 40, 0}}, "a b c"},
    {"the oldest goes first", 100, 100,
     {{'I', "a", 40, 0}, {'I', "b", 40, 0}, {'I', "c", 40, 0}}, "b c"},
    {"a hit counts as a use", 100, 100,
     {{'I', "a", 40, 0}, {'I', "b", 40, 0}, {'L', "a", 0, 0}, {'I', "c", 40, 0}}, "a c"},
    {"an insert counts as a use", 100, 100,
     {{'I', "a", 40, 0}, {'I', "b", 40, 0}, {'I', "a", 40, 0}, {'I', "c", 40, 0}}, "a c"},
    {"as many go as it takes", 100, 100,
     {{'I', "a", 30, 0}, {'I', "b", 30, 0}, {'I', "c", 30, 0}, {'I', "d", 90, 0}}, "d"},
    {"a miss changes nothing", 100, 100,
     {{'I', "a", 50, 0}, {'M', "x", 0, 0}, {'I', "b", 50, 0}}, "a b"},
    {"too big is refused, and evicts nothing", 100, 60,
     {{'I', "a", 50, 0}, {'I', "big", 61, 0}, {'M', "big", 0, 0}}, "a"},
    {"replacing frees the old size", 100, 100,
     {{'I', "a", 60, 0}, {'I', "a", 30, 0}, {'I', "b", 70, 0}}, "a b"},
    {"touch A, insert C, B goes", 100, 100,
     {{'I', "A", 45, 0}, {'I', "B", 45, 0}, {'L', "A", 0, 0}, {'I', "C", 45, 0}, {'M', "B", 0, 0},
      {'L', "A", 0, 0}, {'L', "C", 0, 0}}, "A C"},
    /* A response's size is its head and its body: 2 x 110 bytes do not fit in 210. */
    {"the head counts toward the size", 210, 210,
     {{'I', "a", 110, 10}, {'I', "b", 110, 10}, {'M', "a", 0, 0}, {'L', "b", 0, 0}}, "b"},
    /* If the old a stayed, counted, b (the oldest) would go to make room for c. */
    {"a replaced entry is counted once, wherever it was", 100, 100,
     {{'I', "b", 40, 0}, {'I', "a", 30, 0}, {'I', "a", 30, 0}, {'I', "c", 30, 0}}, "b a c"},
    {"exactly max_object is stored", 100, 60, {{'I', "a", 60, 0}, {'L', "a", 0, 0}}, "a"},
};

static const struct cache_rules keep = {1, 3600, 0};

/* Run one case's operations; say what went wrong. */
static void run_lru_case(const struct lru_case *c)
{
    struct cache *cache = cache_create(c->capacity, c->max_object);
    char data[256], names[64], *save;

    memset(data, 'x', sizeof data);
    for (int i = 0; cache != NULL && i < MAXOPS && c->ops[i].what; i++) {
        const struct op *o = &c->ops[i];
        struct cache_entry *e = o->what == 'I' ? NULL : cache_lookup(cache, o->key);
        if (o->what == 'I')
            cache_insert(cache, o->key, data, o->size, o->head, NULL, &keep);
        EXPECT(o->what == 'I' || (o->what == 'L') == (e != NULL), "%s: step %d, lookup of "
               "%s: %s, expected a %s", c->name, i + 1, o->key, e ? "hit" : "miss",
               o->what == 'L' ? "hit" : "miss");
        cache_release(e);
    }
    snprintf(names, sizeof names, "%s", c->survivors);
    for (char *k = strtok_r(names, " ", &save); cache && k; k = strtok_r(NULL, " ", &save)) {
        struct cache_entry *e = cache_lookup(cache, k);
        EXPECT(e != NULL, "%s: %s should have stayed in the cache", c->name, k);
        cache_release(e);
    }
    if (cache)
        cache_destroy(cache);
}

static void test_lru_table(void)
{
    for (size_t i = 0; i < sizeof lru_cases / sizeof lru_cases[0]; i++)
        run_lru_case(&lru_cases[i]);
}

/* An entry evicted while a reader holds it stays whole until released. */
static void test_reader_keeps_evicted_entry(void)
{
    struct cache *c = cache_create(100, 100);
    struct cache_entry *e;

    cache_insert(c, "a", "AAAAAAAAAA", 10, 0, NULL, &keep);
    e = cache_lookup(c, "a");
    EXPECT(e != NULL, "a lookup right after the insert missed");
    cache_insert(c, "b", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
                         "bbbbbbbbbbbbbbbbbbbbbbbbb", 95, 0, NULL, &keep);
    EXPECT(e == NULL || (e->len == 10 && memcmp(e->data, "AAAAAAAAAA", 10) == 0),
           "an entry evicted while held changed under its reader");
    cache_release(e);               /* the last reference: freed now (valgrind checks) */
    e = cache_lookup(c, "a");
    EXPECT(e == NULL, "the evicted entry is still found");
    cache_release(e);
    cache_destroy(c);
}

/* The bytes the allocator holds for the program now; 0 where it cannot
 * tell (not glibc, or valgrind, whose own leak check stands in). */
static size_t heap_in_use(void)
{
#if defined(SANITIZED)
    return __sanitizer_get_current_allocated_bytes();
#elif defined(__GLIBC__)
#if __GLIBC_PREREQ(2, 33)
    struct mallinfo2 m = mallinfo2();
#else
    struct mallinfo m = mallinfo();
#endif
    return (size_t)m.uordblks + (size_t)m.hblkhd;
#else
    return 0;
#endif
}

/* Every entry is freed, key, data and vary: by eviction, by replacement, by
 * the last reader after an eviction, and by cache_destroy. The allocator's
 * count of bytes in use, before and after, shows a leak in a plain build
 * too, where no leak check runs (under ASan, the runner's does as well). */
static void test_entries_freed(void)
{
    static char data[8000], vary[2000];
    size_t before = heap_in_use(), after;
    struct cache *c = cache_create(40000, 10000);
    struct cache_entry *held = NULL;
    char key[16];

    memset(data, 'd', sizeof data);
    memset(vary, 'v', sizeof vary - 1);
    for (int i = 0; c != NULL && i < 60; i++) {
        snprintf(key, sizeof key, "k%d", i % 20);   /* 20 keys: evicted, some replaced */
        cache_insert(c, key, data, sizeof data - (size_t)(i % 3), 100, vary, &keep);
        if (i % 7 == 0) {                           /* held while evicted, then let go */
            cache_release(held);
            held = cache_lookup(c, key);
            EXPECT(held != NULL, "a lookup of %s right after its insert missed", key);
        }
        if (i % 5 == 1)
            cache_insert(c, key, data, 1000, 100, vary, &keep);     /* replaced at once */
    }
    cache_release(held);
    if (c != NULL)
        cache_destroy(c);
    after = heap_in_use();
    EXPECT(after <= before + 16384, "after 72 inserts of entries with a vary (evicted, replaced, "
           "one held by a reader while evicted, then released) and cache_destroy, %zu bytes "
           "more are allocated than before, expected none: an entry, or its key, data or vary, "
           "is never freed", after > before ? after - before : 0);
}

/* Two readers let go of an evicted entry at once: only the last frees it,
 * and it alone reads it (ThreadSanitizer sees a reader that looks again
 * after its atomic_fetch_sub, racing with the free). */
static struct cache_entry *to_let_go;
static atomic_int go;

static void *let_go(void *arg)
{
    (void)arg;
    while (!atomic_load(&go))
        sched_yield();
    cache_release(to_let_go);
    return NULL;
}

static void test_last_release_frees_once(void)
{
    static const char data[100] = "0123456789";

    for (int round = 0; round < 50; round++) {
        struct cache *c = cache_create(100, 100);
        pthread_t t[2];
        int made = 0;

        cache_insert(c, "a", data, 10, 0, NULL, &keep);
        to_let_go = cache_lookup(c, "a");
        cache_lookup(c, "a");                               /* the same entry: two references */
        cache_insert(c, "b", data, 95, 0, NULL, &keep);     /* evicts a */
        EXPECT(to_let_go != NULL, "a lookup right after the insert missed");
        atomic_store(&go, 0);
        for (int i = 0; to_let_go != NULL && i < 2; i++)
            made += pthread_create(&t[i], NULL, let_go, NULL) == 0;
        atomic_store(&go, 1);
        for (int i = 0; i < made; i++)
            pthread_join(t[i], NULL);
        cache_destroy(c);
    }
}

/* Lookups share the lock: one thread stops inside cache_lookup, on the
 * first read of its key (a page that faults, whose handler waits), and a
 * lookup in another thread must go on meanwhile. */
static char *slow_key;
static size_t page;
static int inside[2], done[2];
static atomic_int waited_in_vain;

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
    struct pollfd p = {done[0], POLLIN, 0};
    ssize_t n = write(inside[1], "i", 1);

    (void)sig, (void)si, (void)ctx, (void)n;
    if (poll(&p, 1, 2000) != 1)         /* only a lookup waiting for this one fails it */
        atomic_store(&waited_in_vain, 1);
    mprotect(slow_key, page, PROT_READ | PROT_WRITE);
}

static void *look_up_slowly(void *c)
{
    struct cache_entry *e = cache_lookup(c, slow_key);
    ssize_t n = write(inside[1], "r", 1);      /* returned: wakes the test if it never stopped */

    (void)n;
    cache_release(e);
    return e;
}

/* Stop a thread in a lookup of slow_key, look up "other" here; returns
 * whether the thread stopped in its lookup. */
static int lookup_while_another_looks_up(struct cache *c)
{
    struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_RESETHAND}, old;
    struct pollfd p = {inside[0], POLLIN, 0};
    struct cache_entry *e = NULL;
    void *found = NULL;
    pthread_t t;
    char what = 0;
    int stopped;

    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old);
    mprotect(slow_key, page, PROT_NONE);
    if (pthread_create(&t, NULL, look_up_slowly, c) != 0) {
        mprotect(slow_key, page, PROT_READ | PROT_WRITE);
        sigaction(SIGSEGV, &old, NULL);
        return 0;
    }
    if (poll(&p, 1, 5000) == 1 && read(inside[0], &what, 1) == 1 && what == 'i')
        e = cache_lookup(c, "other");           /* while the thread is stopped in its lookup */
    stopped = what == 'i';
    EXPECT(!stopped || e != NULL, "a lookup of \"other\", just inserted, missed");
    cache_release(e);
    EXPECT(write(done[1], "d", 1) == 1, "cannot write to a pipe");
    pthread_join(t, &found);
    sigaction(SIGSEGV, &old, NULL);
    EXPECT(found != NULL, "a lookup of \"slow\", just inserted, missed");
    return stopped;
}

static void test_lookups_at_once(void)
{
    struct cache *c;

    if (RUNNING_ON_VALGRIND || (c = cache_create(1000, 1000)) == NULL)
        return;                 /* valgrind cannot resume a load that faulted */
    page = (size_t)sysconf(_SC_PAGESIZE);
    slow_key = aligned_alloc(page, page);
    if (slow_key == NULL || pipe(inside) < 0 || pipe(done) < 0) {
        EXPECT(0, "out of memory or descriptors: %s", strerror(errno));
        free(slow_key);
        cache_destroy(c);
        return;
    }
    strcpy(slow_key, "slow");
    cache_insert(c, "slow", "0123456789", 10, 0, NULL, &keep);
    cache_insert(c, "other", "0123456789", 10, 0, NULL, &keep);
    EXPECT(lookup_while_another_looks_up(c), "a lookup of \"slow\" returned without reading "
           "its key");
    EXPECT(!atomic_load(&waited_in_vain), "while one thread was inside cache_lookup (reading "
           "its key), a lookup in another thread waited for it to end (2 s); expected it to go "
           "on at once: lookups share the lock (pthread_rwlock_rdlock)");
    for (int i = 0; i < 2; i++)
        close(inside[i]), close(done[i]);
    free(slow_key);
    cache_destroy(c);
}

struct key_case {
    const char *request, *key;
};

static const struct key_case key_cases[] = {
    {"GET http://EXAMPLE.com:80/a?b HTTP/1.1\r\nHost: x\r\n\r\n", "http://example.com/a?b"},
    {"GET http://example.com/a?b HTTP/1.1\r\nHost: x\r\n\r\n", "http://example.com/a?b"},
    {"GET HTTP://Example.Com:8080/A/B HTTP/1.1\r\nHost: x\r\n\r\n", "http://example.com:8080/A/B"},
    {"GET http://[::1]:8080/x#frag HTTP/1.1\r\nHost: x\r\n\r\n", "http://[::1]:8080/x"},
    {"GET http://h HTTP/1.1\r\nHost: x\r\n\r\n", "http://h/"},
};

static void test_keys(void)
{
    char key[CACHE_KEY_MAX];
    struct http_request req;

    for (size_t i = 0; i < sizeof key_cases / sizeof key_cases[0]; i++) {
        const struct key_case *c = &key_cases[i];
        int n = http_parse_request(c->request, strlen(c->request), &req);
        int k = n > 0 ? cache_key(&req, key, sizeof key) : -1;
        EXPECT(k == (int)strlen(c->key) && strcmp(key, c->key) == 0,
               "cache_key of %.40s gave \"%s\", expected \"%s\"", c->request, k > 0 ? key : "",
               c->key);
    }
}

struct rules_case {
    const char *what, *head;
    int storable;
    long lifetime, initial_age;
};

#define NOW 1764255600L         /* Thu, 27 Nov 2025 15:00:00 GMT */
#define DATE "Date: Thu, 27 Nov 2025 15:00:00 GMT\r\n"

static const struct rules_case rules_cases[] = {
    {"nothing said: the default", "HTTP/1.1 200 OK\r\n\r\n", 1, 300, 0},
    {"max-age", "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n\r\n", 1, 60, 0},
    {"s-maxage wins", "HTTP/1.1 200 OK\r\nCache-Control: max-age=60, s-maxage=90\r\n\r\n", 1,
     90, 0},
    {"max-age=0: stale at once", "HTTP/1.1 200 OK\r\nCache-Control: max-age=0\r\n\r\n", 1, 0, 0},
    {"Expires against Date", "HTTP/1.1 200 OK\r\n" DATE
     "Expires: Thu, 27 Nov 2025 16:00:00 GMT\r\n\r\n", 1, 3600, 0},
    {"Expires in the past", "HTTP/1.1 200 OK\r\n" DATE
     "Expires: Thu, 27 Nov 2025 14:00:00 GMT\r\n\r\n", 1, 0, 0},
    {"an Expires that is no date", "HTTP/1.1 200 OK\r\n" DATE "Expires: 0\r\n\r\n", 1, 0, 0},
    /* Dates sscanf took, until the fuzzer (fuzz/) showed they could live for decades. */
    {"an Expires with signed minutes and seconds", "HTTP/1.1 200 OK\r\n" DATE
     "Expires: Thu, 27 Nov 2025 16:-5:-9 GMT\r\n\r\n", 1, 0, 0},
    {"an Expires with a six-digit year", "HTTP/1.1 200 OK\r\n" DATE
     "Expires: Thu, 27 Nov 241205: 00:00 GMT\r\n\r\n", 1, 0, 0},
    {"an Expires with a tab for a space", "HTTP/1.1 200 OK\r\n" DATE
     "Expires: Thu,\t27 Nov 2025 16:00:00 GMT\r\n\r\n", 1, 0, 0},
    {"max-age beats Expires", "HTTP/1.1 200 OK\r\n" DATE
     "Expires: Thu, 27 Nov 2025 14:00:00 GMT\r\nCache-Control: max-age=10\r\n\r\n", 1, 10, 0},
    {"no-cache: kept, never fresh", "HTTP/1.1 200 OK\r\nCache-Control: no-cache\r\n\r\n", 1, 0,
     0},
    {"no-store", "HTTP/1.1 200 OK\r\nCache-Control: no-store\r\n\r\n", 0, 300, 0},
    {"private", "HTTP/1.1 200 OK\r\nCache-Control: private, max-age=60\r\n\r\n", 0, 60, 0},
    {"a 404", "HTTP/1.1 404 Not Found\r\n\r\n", 0, 300, 0},
    {"Vary: *", "HTTP/1.1 200 OK\r\nVary: *\r\n\r\n", 0, 300, 0},
    {"Age counts", "HTTP/1.1 200 OK\r\nAge: 25\r\nCache-Control: max-age=60\r\n\r\n", 1, 60, 25},
    {"an old Date counts", "HTTP/1.1 200 OK\r\nDate: Thu, 27 Nov 2025 14:59:00 GMT\r\n\r\n", 1,
     300, 60},
};

static void test_rules_table(void)
{
    for (size_t i = 0; i < sizeof rules_cases / sizeof rules_cases[0]; i++) {
        const struct rules_case *c = &rules_cases[i];
        struct cache_rules r;

        unit_row();             /* scored by row: each is a caching rule */
        cache_read_rules(c->head, strlen(c->head), NOW, 300, &r);
        EXPECT(r.storable == c->storable && r.lifetime == c->lifetime &&
               r.initial_age == c->initial_age, "%s: storable %d, lifetime %ld, initial age %ld; "
               "expected %d, %ld, %ld", c->what, r.storable, r.lifetime, r.initial_age,
               c->storable, c->lifetime, c->initial_age);
    }
}

static void test_fresh_with_fixed_clocks(void)
{
    struct cache_entry e = {.stored = NOW, .rules = {1, 60, 10}};
    static const struct {
        long later;
        int fresh;
        long age;
    } at[] = {{0, 1, 10}, {49, 1, 59}, {50, 0, 60}, {1000, 0, 1010}, {-5, 1, 10}};

    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        long age = -1;
        int fresh = cache_fresh(&e, NOW + at[i].later, &age);
        EXPECT(fresh == at[i].fresh && age == at[i].age, "an entry 10 s old when stored, "
               "fresh for 60 s, %ld s after: fresh %d, age %ld; expected %d, %ld", at[i].later,
               fresh, age, at[i].fresh, at[i].age);
    }
}

/* Threads insert and read the same few keys at once; every hit must hold the
 * bytes of its own key, whole. */
static struct cache *shared;
static atomic_int hits;

static void *hammer(void *arg)
{
    char key[16], data[2000];
    long id = (long)arg;

    for (int i = 0; i < 400; i++) {
        int k = (int)((id * 7 + i) % 10);
        struct cache_entry *e;

        snprintf(key, sizeof key, "k%d", k);
        memset(data, 'a' + k, sizeof data);
        if ((e = cache_lookup(shared, key)) == NULL)
            cache_insert(shared, key, data, (size_t)(1000 + k * 100), 0, NULL, &keep);
        else if (e->len != (size_t)(1000 + k * 100) || memchr(e->data, 'a' + k, 1) == NULL ||
                 e->data[e->len - 1] != 'a' + k)
            EXPECT(0, "a hit on %s held the wrong bytes", key);
        else
            atomic_fetch_add(&hits, 1);
        cache_release(e);
    }
    return NULL;
}

static void test_threads_at_once(void)
{
    pthread_t t[8];

    shared = cache_create(6000, 3000);      /* room for a few: evictions all along */
    for (long i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, hammer, (void *)i);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    cache_destroy(shared);
    EXPECT(atomic_load(&hits) > 0, "3200 lookups of 10 keys, each inserted on a miss, and "
           "not one hit");
}

UNIT_SUITE(cache,
           {"lru_table", test_lru_table},
           {"reader_keeps_evicted_entry", test_reader_keeps_evicted_entry},
           {"entries_freed", test_entries_freed},
           {"last_release_frees_once", test_last_release_frees_once},
           {"lookups_at_once", test_lookups_at_once},
           {"keys", test_keys},
           {"rules_table", test_rules_table},
           {"fresh_with_fixed_clocks", test_fresh_with_fixed_clocks},
           {"threads_at_once", test_threads_at_once})
