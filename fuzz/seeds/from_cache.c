/* Seeds from the cache tests: requests whose keys they check, and response
 * heads whose caching rules they check. */
#include "../../tests/test_cache.c"
#include "seeds.h"

void seeds_cache(void)
{
    for (size_t i = 0; i < sizeof key_cases / sizeof key_cases[0]; i++)
        seed_request("key", i, key_cases[i].request, strlen(key_cases[i].request));
    for (size_t i = 0; i < sizeof rules_cases / sizeof rules_cases[0]; i++)
        seed("response", "rules", i, rules_cases[i].head, strlen(rules_cases[i].head));
}
