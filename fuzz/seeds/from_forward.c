/* Seeds from the forward tests: what clients send, and what goes upstream. */
#include "../../tests/test_forward.c"
#include "seeds.h"

void seeds_forward(void)
{
    for (size_t i = 0; i < sizeof build_cases / sizeof build_cases[0]; i++) {
        seed_request("forward", i, build_cases[i].client, strlen(build_cases[i].client));
        seed("request", "upstream", i, build_cases[i].upstream, strlen(build_cases[i].upstream));
    }
}
