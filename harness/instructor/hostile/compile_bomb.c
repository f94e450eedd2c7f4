/* Hostile submission: a compile bomb. Thirty macros, each twice the one
 * before, expand into an initializer of 2^30 ints, which cc1 builds in
 * memory: it grows by about 100 MiB a second, into tens of GiB, for many
 * minutes (the case reported took 7.2 GiB and 75 s for one file, and the
 * machine's memory with it). No program is ever built.
 * Appended to: rio.c of stage 1 (the reference's answer): a module, which
 * the programs and the unit runner both need.
 * Graded: alone (what its compiler takes would count in a batch's peak).
 * Expect: 0 points, reason "build: out of memory", within seconds: the
 * build's address-space limit (1 GiB a process) stops cc1 ("virtual memory
 * exhausted"), so the grade's peak memory stays under it; nothing is left
 * running. With --build-timeout 1, the build's process group is killed
 * first: reason "build: time limit". */
#define HOSTILE_B0 0,
#define HOSTILE_B1 HOSTILE_B0 HOSTILE_B0
#define HOSTILE_B2 HOSTILE_B1 HOSTILE_B1
#define HOSTILE_B3 HOSTILE_B2 HOSTILE_B2
#define HOSTILE_B4 HOSTILE_B3 HOSTILE_B3
#define HOSTILE_B5 HOSTILE_B4 HOSTILE_B4
#define HOSTILE_B6 HOSTILE_B5 HOSTILE_B5
#define HOSTILE_B7 HOSTILE_B6 HOSTILE_B6
#define HOSTILE_B8 HOSTILE_B7 HOSTILE_B7
#define HOSTILE_B9 HOSTILE_B8 HOSTILE_B8
#define HOSTILE_B10 HOSTILE_B9 HOSTILE_B9
#define HOSTILE_B11 HOSTILE_B10 HOSTILE_B10
#define HOSTILE_B12 HOSTILE_B11 HOSTILE_B11
#define HOSTILE_B13 HOSTILE_B12 HOSTILE_B12
#define HOSTILE_B14 HOSTILE_B13 HOSTILE_B13
#define HOSTILE_B15 HOSTILE_B14 HOSTILE_B14
#define HOSTILE_B16 HOSTILE_B15 HOSTILE_B15
#define HOSTILE_B17 HOSTILE_B16 HOSTILE_B16
#define HOSTILE_B18 HOSTILE_B17 HOSTILE_B17
#define HOSTILE_B19 HOSTILE_B18 HOSTILE_B18
#define HOSTILE_B20 HOSTILE_B19 HOSTILE_B19
#define HOSTILE_B21 HOSTILE_B20 HOSTILE_B20
#define HOSTILE_B22 HOSTILE_B21 HOSTILE_B21
#define HOSTILE_B23 HOSTILE_B22 HOSTILE_B22
#define HOSTILE_B24 HOSTILE_B23 HOSTILE_B23
#define HOSTILE_B25 HOSTILE_B24 HOSTILE_B24
#define HOSTILE_B26 HOSTILE_B25 HOSTILE_B25
#define HOSTILE_B27 HOSTILE_B26 HOSTILE_B26
#define HOSTILE_B28 HOSTILE_B27 HOSTILE_B27
#define HOSTILE_B29 HOSTILE_B28 HOSTILE_B28
#define HOSTILE_B30 HOSTILE_B29 HOSTILE_B29

const int hostile_compile_bomb[] = {HOSTILE_B30};
