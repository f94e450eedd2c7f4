#!/bin/sh
# run.sh [TARGET...]: run each fuzz target named (all four if none is:
# request url chunked response), as make built it, for FUZZ_SECONDS
# seconds (default 60), two at a time, on the committed corpus plus seeds
# written afresh from the CUnit tables (so new test cases count at once).
# What the fuzzer finds goes to a temporary directory, removed at the end;
# a crash's input is kept in fuzz/build/crashes/TARGET/, and the command
# that replays it is printed. Exit status: 0 if no target crashed, else 1.
set -u
cd "$(dirname "$0")" || exit 2
seconds=${FUZZ_SECONDS:-30}
work=$(mktemp -d) || exit 2
trap 'rm -rf "$work"' EXIT
build/seeds "$work/seeds" || exit 2

# The longest input each target tries: past the limits it must enforce
# (HTTP_MAX_HEAD, HTTP_MAX_LINE, FRAMING_MAX_LINE), not much more.
max_len() {
    case $1 in
        request) echo 17000 ;;
        url) echo 8100 ;;
        chunked) echo 9000 ;;
        *) echo 8192 ;;
    esac
}

# one TARGET: fuzz it; print one line, or the crash and how to replay it.
one() {
    log=$work/$1.log
    if [ ! -x "build/fuzz_$1" ]; then
        echo "fuzz $1: FAILED: no such target built (make -C fuzz builds them)"
        return 1
    fi
    mkdir -p "$work/new-$1" "build/crashes/$1" "$work/seeds/$1"
    if "build/fuzz_$1" -max_total_time="$seconds" -max_len="$(max_len "$1")" -timeout=10 \
        -rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$PWD/build/crashes/$1/" \
        "$work/new-$1" "corpus/$1" "$work/seeds/$1" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        echo "fuzz $1: $seconds s, ${runs:-?} inputs, no crash"
        return 0
    fi
    grep -v -e '^INFO:' -e '^#[0-9]' "$log" | tail -n 40     # not the progress lines
    input=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
    echo "fuzz $1: FAILED (above). Replay it:  fuzz/build/fuzz_$1 ${input:-fuzz/build/crashes/$1/...}"
    return 1
}

failed=0
[ $# -gt 0 ] || set -- request url chunked response
set -- "$@" ""
while [ -n "$1" ]; do
    one "$1" &
    first=$!
    shift
    second=""
    if [ -n "$1" ]; then
        one "$1" &
        second=$!
        shift
    fi
    wait "$first" || failed=1
    [ -z "$second" ] || wait "$second" || failed=1
done
exit "$failed"
