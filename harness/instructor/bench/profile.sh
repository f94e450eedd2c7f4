#!/bin/sh
# profile.sh perf|callgrind CASE [OUTDIR]: profile the reference on one bench
# case (hit-1k, miss-1k, ...): bench.py runs that case once against the
# reference alone, under the profiler, and the profile's top is printed.
#
#   perf       perf record (sampling; needs linux-perf and perf_event access):
#              where the time goes, the kernel included
#   callgrind  valgrind --tool=callgrind: instructions executed, in user space
#              only, but the same from run to run on a noisy machine
# The raw profile stays in OUTDIR (default: a new temp dir), for perf report
# or callgrind_annotate.
set -eu
tool=${1:?usage: profile.sh perf|callgrind CASE [OUTDIR]}
case_=${2:?usage: profile.sh perf|callgrind CASE [OUTDIR]}
out=${3:-$(mktemp -d)}
here=$(dirname "$0")
mkdir -p "$out"
case $tool in
    perf)      wrapper="perf record -F 1999 -g -o $out/perf.data --" ;;
    callgrind) wrapper="valgrind --tool=callgrind --callgrind-out-file=$out/callgrind.out" ;;
    *) echo "profile.sh: $tool: perf or callgrind" >&2; exit 2 ;;
esac
# Under callgrind the proxy runs ~50 times slower: fewer connections.
conns=64; [ "$tool" = callgrind ] && conns=8
/usr/bin/python3 "$here/bench.py" --peers reference --only "$case_" --runs 1 \
    --duration "${DURATION:-10}" --connections "$conns" --wrapper "$wrapper" >"$out/bench.txt"
grep -m1 "run 1/1" "$out/bench.txt" || true
if [ "$tool" = perf ]; then
    perf report -i "$out/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
        grep -E '^ +[0-9]'
    perf report -i "$out/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
        grep -E '^ +[0-9]' | head -${TOP:-25}
else
    callgrind_annotate --inclusive=no "$out/callgrind.out" 2>/dev/null |
        sed -n '/^Ir/,$p' | head -$((${TOP:-25} + 2))
fi
echo "profile.sh: the whole profile is in $out"
