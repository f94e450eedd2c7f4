#!/bin/sh
# mkcorpus.sh TARGET...: rewrite corpus/TARGET/ for each target: every seed
# that build/seeds writes from the CUnit tables, less those that reach no
# code that others before them do not (libFuzzer's -merge). Seeds keep their
# names (table-row). Run by make seeds. Exit status: 0, or 1 on failure.
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build/seeds "$work/seeds"
for t in "$@"; do
    mkdir -p "$work/merged-$t"
    "build/fuzz_$t" -merge=1 -max_len=20000 "$work/merged-$t" "$work/seeds/$t" \
        >"$work/$t.log" 2>&1 || { cat "$work/$t.log"; exit 1; }
    rm -rf "corpus/$t"
    mkdir -p "corpus/$t"
    # libFuzzer names what it keeps by the SHA-1 of its bytes: map it back.
    (cd "$work/seeds/$t" && sha1sum -- *) | while read -r sum name; do
        if [ -e "$work/merged-$t/$sum" ]; then
            cp "$work/seeds/$t/$name" "corpus/$t/"
            rm "$work/merged-$t/$sum"     # once, if two rows hold the same bytes
        fi
    done
    echo "corpus/$t: $(ls "corpus/$t" | wc -l) of $(ls "$work/seeds/$t" | wc -l) seeds"
done
