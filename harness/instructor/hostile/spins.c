/* Hostile submission: never exits, and never listens either.
 * Appended to: echoserver.c of stage 1 (the reference's answer).
 * Expect: every echoserver test scores 0, each stopped by the per-test time
 * limit or by the whole run's; the CUnit tests keep their points. */
__attribute__((constructor)) static void hostile_spin(void)
{
    for (volatile unsigned long i = 0;; i++)
        continue;
}
