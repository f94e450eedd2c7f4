/* Seeds from the framing tests: chunked bodies, the requests whose
 * framing they check, and response heads. */
#include "../../tests/test_framing.c"
#include "seeds.h"

#define COUNT(a) (sizeof(a) / sizeof(a)[0])

/* Bodies whose size line, then trailer line, is exactly FRAMING_MAX_LINE
 * bytes before its LF, as test_chunk_line_limit builds them, fed whole:
 * the fuzzer steps over the limit from there. */
static void seed_line_limits(void)
{
    static char in[FRAMING_MAX_LINE + 16];

    for (int trailer = 0; trailer <= 1; trailer++) {
        const char *start = trailer ? "0\r\n" : "0;";    /* then 'a's up to the CR */
        size_t n = 1 + strlen(start), run = FRAMING_MAX_LINE - 1 - (trailer ? 0 : 2);

        in[0] = 0;
        memcpy(in + 1, start, n - 1);
        memset(in + n, 'a', run);
        memcpy(in + n + run, "\r\n\r\n", 4);
        seed("chunked", "limit", (size_t)trailer, in, n + run + 4);
    }
}

void seeds_framing(void)
{
    char buf[512];
    struct http_request req;

    for (size_t i = 0; i < COUNT(chunk_cases); i++)
        seed_chunked("chunks", i, chunk_cases[i].in.p, chunk_cases[i].in.n);
    for (size_t i = 0; i < COUNT(relay_cases); i++)
        if (relay_cases[i].f.kind == FRAMING_CHUNKED)
            seed_chunked("relay", i, relay_cases[i].in.p, relay_cases[i].in.n);
    for (size_t i = 0; i < COUNT(request_cases); i++) {
        make_request(request_cases[i].fields, request_cases[i].version, buf, sizeof buf, &req);
        seed("request", "framing", i, buf, strlen(buf));
    }
    for (size_t i = 0; i < COUNT(keep_cases); i++) {
        make_request(keep_cases[i].fields, keep_cases[i].version, buf, sizeof buf, &req);
        seed("request", "keep", i, buf, strlen(buf));
    }
    for (size_t i = 0; i < COUNT(response_cases); i++)
        seed("response", "framing", i, response_cases[i].head, strlen(response_cases[i].head));
    for (size_t i = 0; i < COUNT(head_cases); i++)
        seed("response", "head", i, head_cases[i].in.p, head_cases[i].in.n);
    seed_line_limits();
}
