/* Seeds from the request-parser tests: every head in their tables. */
#include "../../tests/test_http.c"
#include "seeds.h"

void seeds_http(void)
{
    for (size_t i = 0; i < COUNT(valid_cases); i++)
        seed_request("valid", i, valid_cases[i].in, strlen(valid_cases[i].in));
    for (size_t i = 0; i < COUNT(error_cases); i++)
        seed_request("error", i, error_cases[i].in.p, error_cases[i].in.n);
    for (size_t i = 0; i < COUNT(incomplete_cases); i++)
        seed_request("incomplete", i, incomplete_cases[i].in.p, incomplete_cases[i].in.n);
}
