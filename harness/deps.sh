#!/bin/sh
# deps.sh [EXTRA...]: check that what the kit needs is installed, and name the
# Debian package for whatever is missing. EXTRA adds needs beyond building and
# testing a stage: "stages" (make stages), "valgrind", "clang", "browser",
# "grader" (its sandbox, bubblewrap, and the histogram of batch grading), "fuzz" (make fuzz: clang's
# libFuzzer runtime), "mutants" (make mutants: patch), "bench" (make
# bench-smoke: wrk, and nginx, Squid and tinyproxy to compare), "conformance"
# (make conformance: Node.js and npm for the suite, and Squid to compare).
# Exit status: 0 if all is there, 1 if not.
missing=""

# need CHECK PACKAGE: CHECK is a command name, or a path that must exist.
need() {
    case $1 in
        /*) [ -e "$1" ] ;;
        *) command -v "$1" >/dev/null 2>&1 ;;
    esac || missing="$missing $2"
}

need cc build-essential
need make build-essential
need /usr/include/CUnit/CUnit.h libcunit1-dev
need /usr/bin/python3 python3
need /usr/lib/python3/dist-packages/pytest python3-pytest
need /usr/lib/python3/dist-packages/pytest_timeout.py python3-pytest-timeout
need curl curl
need goaccess goaccess
need openssl openssl
for extra in "$@"; do
    case $extra in
        stages) need unifdef unifdef ;;
        valgrind) need valgrind valgrind ;;
        clang) need clang clang ;;
        mutants) need patch patch ;;
        browser) need firefox-esr firefox-esr; need certutil libnss3-tools ;;
        grader) need gnuplot gnuplot-nox; need bwrap bubblewrap ;;
        bench) need wrk wrk; need /usr/sbin/nginx nginx-light; need /usr/sbin/squid squid
               need /usr/bin/tinyproxy tinyproxy ;;
        conformance) need node nodejs; need npm npm; need /usr/sbin/squid squid ;;
        fuzz) need clang clang
              rt=$(clang -print-resource-dir 2>/dev/null)/lib/linux
              arch=$(uname -m)
              need "$rt/libclang_rt.fuzzer-$arch.a" libclang-rt-14-dev ;;
    esac
done

if [ -n "$missing" ]; then
    packages=$(printf '%s\n' $missing | sort -u | tr '\n' ' ')
    echo "Missing packages: $packages" >&2
    echo "Install them with:  sudo apt-get install -y $packages" >&2
    exit 1
fi
