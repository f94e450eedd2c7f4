# The proxy lab kit. See README.md.
#
#   make               build the reference solution (solution/)
#   make run           build it and run it on 127.0.0.1:8080
#   make test          everything CI checks: the reference passes every test
#                      (also under sanitizers; its unit tests under valgrind,
#                      its programs too with make memcheck), each starter
#                      fails its own stage and passes the earlier ones,
#                      stages/ is what `make stages` writes, and the
#                      harness's self-tests
#   make test SANITIZE=thread   only the reference's tests, built with that
#                      sanitizer (or address,undefined)
#   make mutants       grade each known-bad variant of the reference
#                      (harness/instructor/mutants/): each must lose the
#                      tests its header names (MUTANTS="-j 1 04 09" to vary it)
#   make fuzz          run each libFuzzer target (fuzz/) for FUZZ_SECONDS (30),
#                      two at a time; fails on any crash (docs/fuzzing.md)
#   make stages        write stages/ from solution/, labs.md's points tables
#                      from harness/rubric.txt, and docs/faults.md from
#                      harness/kit/faults.py (commit the result)
#   make check-stages  fail if stages/ differs from what make stages writes, or
#                      if a handout shows stale text: a comment above no
#                      declaration, a macro the stage does not use, (void)x
#                      before a use of x (harness/instructor/stale_text.py)
#   make grade STAGE=N SUB=PATH...  grade submissions of stage N (harness/grade)
#   make handout STAGE=N      stage N's student tarball, proxylab-handout-stageN.tar.gz:
#                      nothing of a later stage (whose starter is stage N's answer)
#   make gradescope STAGE=N   Gradescope's autograder zip for stage N
#   make autolab STAGE=N      Autolab's autograde-Makefile and autograde.tar for stage N
#   make soak          load the reference for a while (100,000 requests from
#                      64 clients, at most 10 minutes), then check that it
#                      is as it was and logged every answer (docs/soak.md);
#                      SOAK="--requests N --clients C --seconds S" to vary
#                      it, SAN=thread to soak a sanitizer build
#   make bench         measure the reference against Squid, tinyproxy and nginx
#                      direct (harness/instructor/bench, ~15 minutes), and
#                      rewrite the results in docs/performance.md and docs/bench/
#   make bench-smoke   every bench case once, briefly: the bench still works
#   make conformance   the HTTP caching tests of cache-tests.fyi through the
#                      reference and Squid (harness/instructor/conformance,
#                      ~1 minute; npm installs the suite): rewrites docs/conformance.md,
#                      and fails if a required test the baseline lists as
#                      passing no longer passes (UPDATE=1 rewrites the baseline)
#   make clean

PYTHON   := /usr/bin/python3
PORT     ?= 8080
# Build outputs that may sit in a stage directory; check-stages ignores them.
OUTPUTS  := build log.txt $(shell awk '!/^\#/ && NF { print $$3 }' solution/STAGES)

.PHONY: all run test deps stages check-stages check-old-base selftest teeth selftest-and-teeth mutants sanitizers memcheck clang fuzz \
        sanitizers-and-memcheck memcheck-units fuzz-and-conformance \
        soak soak-short bench bench-smoke conformance clean grade rubric handout gradescope autolab

all:
	$(MAKE) -C solution

run: all
	@echo "proxy on 127.0.0.1:$(PORT), logging to log.txt: set your browser's HTTP proxy to" \
	      "127.0.0.1 port $(PORT), or try  curl -x 127.0.0.1:$(PORT) http://example.com/  (Ctrl-C stops it)"
	@exec solution/proxy $(PORT)

deps:
	@harness/deps.sh stages valgrind clang browser fuzz bench grader mutants conformance

# make test SANITIZE=address,undefined (or thread): only the reference's tests,
# every unit test and every black-box scenario, built with that sanitizer.
ifdef SANITIZE
test: deps
	$(PYTHON) harness/check.py --stage 9 --dir solution --san $(SANITIZE)
else
test: deps check-stages rubric clang selftest-and-teeth sanitizers-and-memcheck soak-short bench-smoke \
      fuzz-and-conformance
	@echo "make test: all checks passed"
endif

stages: deps
	harness/instructor/mkstages stages
	$(PYTHON) harness/instructor/labs_points.py
	$(PYTHON) harness/instructor/faults_doc.py
	$(PYTHON) harness/instructor/mutants_doc.py

check-stages: deps
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && harness/instructor/mkstages "$$tmp" && \
	if diff -r $(OUTPUTS:%=-x %) "$$tmp" stages; then \
	    $(PYTHON) harness/instructor/labs_points.py --check && $(PYTHON) harness/instructor/faults_doc.py --check && \
	    $(PYTHON) harness/instructor/mutants_doc.py --check && $(PYTHON) harness/instructor/stale_text.py && \
	    echo "check-stages: stages/ matches solution/, with no stale text; labs.md's points, docs/faults.md and docs/mutants.md are current"; \
	else \
	    echo "check-stages: stages/ differs from what make stages writes (above): run make stages and commit"; \
	    exit 1; \
	fi

selftest: deps
	$(PYTHON) -m pytest -c harness/pytest.ini --rootdir harness harness/instructor/selftest -q

teeth: deps
	$(PYTHON) harness/instructor/teeth.py

# make test runs the self-tests and the teeth check side by side: each works
# in directories of its own (teeth builds out of tree), and both wait on
# sockets and timers far more than they compute. The teeth table comes after
# the self-tests' output.
selftest-and-teeth: deps
	@log=$$(mktemp) && trap 'rm -f "$$log"' EXIT && \
	{ $(PYTHON) harness/instructor/teeth.py >"$$log" 2>&1 & teeth=$$!; } && \
	$(PYTHON) -m pytest -c harness/pytest.ini --rootdir harness harness/instructor/selftest -q; self=$$?; \
	wait $$teeth; tooth=$$?; cat "$$log"; [ $$self -eq 0 ] && [ $$tooth -eq 0 ]

# The grader refuses to run while a test lacks a rubric entry or an entry a test.
rubric: deps
	@harness/quietly "rubric: every test has an entry and every entry a test" \
	    $(PYTHON) harness/grade --check-rubric

# Grade stage N's (3's) Gradescope package in a Debian 11 root (Python 3.9,
# pytest 6.0.2): as root, with mmdebstrap; 2-4 minutes, so not part of make
# test (whose selftests check the same package statically).
check-old-base: deps
	$(PYTHON) harness/instructor/platforms/check-old-base --stage $(or $(STAGE),3)

# These need STAGE=N: there is no default stage to grade or to cut.
need-stage = $(if $(STAGE),,$(error make $@ needs STAGE=N, the stage (1 to 8): see docs/instructors.md))

grade: deps
	$(need-stage)$(PYTHON) harness/grade --stage $(STAGE) $(SUB)

handout:
	$(need-stage)$(PYTHON) harness/instructor/package.py handout --stage $(STAGE) proxylab-handout-stage$(STAGE).tar.gz

gradescope: deps
	$(need-stage)$(PYTHON) harness/instructor/package.py gradescope --stage $(STAGE) proxylab-gradescope-stage$(STAGE).zip

autolab: deps
	$(need-stage)$(PYTHON) harness/instructor/package.py autolab --stage $(STAGE) autolab-stage$(STAGE)

# The grader proves itself: each mutant builds and fails every test meant to
# catch it (about a minute on 2 cores). MUTANTS passes options and names.
# make test grades them in the teeth check (each once, then four more times
# within a time budget). MUTANT_RUNS=5 grades each five times (one build),
# to show a catch is no accident of timing.
MUTANTS ?=
MUTANT_RUNS ?= 1
mutants: deps
	$(PYTHON) harness/instructor/mutants.py --runs $(MUTANT_RUNS) $(MUTANTS)

# Students build with gcc or clang (macOS's cc): the reference and every
# starter must compile without a warning under both.
clang: deps
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	for d in solution stages/*/; do \
	    harness/quietly "clang: $$d builds without warnings" \
	        $(MAKE) -s -C $$d build-all CC=clang OBJDIR="$$tmp/$$d" BINDIR="$$tmp/$$d" || exit 1; \
	done

# The reference's own tests under AddressSanitizer with UBSan, and
# ThreadSanitizer: both runs at once (each builds into its own build/ dir,
# and every test takes its own ports and files), which also tries the tests
# on a machine that another run shares.
sanitizers: deps
	@harness/quietly "reference under -fsanitize=address,undefined" \
	    $(PYTHON) harness/check.py --stage 9 --dir solution --san address,undefined & asan=$$!; \
	harness/quietly "reference under -fsanitize=thread" \
	    $(PYTHON) harness/check.py --stage 9 --dir solution --san thread; tsan=$$?; \
	wait $$asan && [ $$tsan -eq 0 ]

# make test runs the reference's unit tests under valgrind beside the
# sanitizer runs, as it runs the self-tests beside the teeth check: each
# builds and works in directories of its own. Its programs under valgrind
# (make memcheck), which the sanitizer runs cover, are left to make memcheck:
# they cost make test minutes it does not have (CI must end within 20).
sanitizers-and-memcheck: deps
	@log=$$(mktemp) && trap 'rm -f "$$log"' EXIT && \
	{ $(MAKE) -s --no-print-directory memcheck-units >"$$log" 2>&1 & mem=$$!; } && \
	$(MAKE) -s --no-print-directory sanitizers; san=$$?; \
	wait $$mem; memc=$$?; cat "$$log"; [ $$san -eq 0 ] && [ $$memc -eq 0 ]

# The reference under valgrind: its CUnit tests (memcheck-units), then its
# programs through every black-box test.
VALGRIND := valgrind -q --leak-check=full --errors-for-leak-kinds=definite
memcheck-units: deps
	@harness/quietly "reference unit tests under valgrind" $(MAKE) -s -C solution memcheck

memcheck: memcheck-units
	@harness/quietly "reference programs under valgrind" \
	    $(PYTHON) harness/check.py --stage 9 --dir solution --wrapper "$(VALGRIND)"

# The parsers under libFuzzer, with ASan and UBSan: each target for
# FUZZ_SECONDS seconds, two at a time (about a minute at the default 30;
# make fuzz FUZZ_SECONDS=600 for a longer search).
FUZZ_SECONDS ?= 30
fuzz: deps
	@harness/quietly "fuzz targets build without warnings" $(MAKE) -s -C fuzz
	@$(MAKE) -s -C fuzz run FUZZ_SECONDS=$(FUZZ_SECONDS)

# make test fuzzes each target for 20 s, while the conformance run (which
# mostly waits: the suite pauses between requests so that responses age)
# goes on beside it; make fuzz alone searches longer.
fuzz-and-conformance: all deps
	@log=$$(mktemp) && trap 'rm -f "$$log"' EXIT && \
	{ $(PYTHON) harness/instructor/conformance/conformance.py >"$$log" 2>&1 & conf=$$!; } && \
	$(MAKE) -s --no-print-directory fuzz FUZZ_SECONDS=20; fz=$$?; \
	wait $$conf; cf=$$?; cat "$$log"; [ $$fz -eq 0 ] && [ $$cf -eq 0 ]

# The soak run (harness/instructor/soak.py); CI runs a short form of it. SAN=thread
# (or address,undefined) soaks the reference built with that sanitizer.
SOAK ?=
soak: deps
	@$(MAKE) -s --no-print-directory -C solution $(if $(SAN),SAN=$(SAN))
	$(PYTHON) harness/instructor/soak.py $(if $(SAN),--san $(SAN)) $(SOAK)

soak-short: deps
	@$(MAKE) -s --no-print-directory -C solution
	@harness/quietly "soak, short form" $(PYTHON) harness/instructor/soak.py --requests 5000 --seconds 60

# The benchmark of issue 10 (docs/performance.md says how to read it). BENCH
# passes options to bench.py, e.g. BENCH="--runs 5 --duration 20".
bench: all
	$(PYTHON) harness/instructor/bench/bench.py --out docs/bench --doc docs/performance.md $(BENCH)

bench-smoke: all deps
	@harness/quietly "bench-smoke: every bench case runs against every proxy" \
	    $(PYTHON) harness/instructor/bench/bench.py --smoke

# The HTTP caching tests of cache-tests.fyi (issue 18; docs/conformance.md
# says how to read them). UPDATE=1 records this run's results as the baseline.
conformance: all deps
	$(PYTHON) harness/instructor/conformance/conformance.py $(if $(UPDATE),--update)

clean:
	$(MAKE) -C fuzz clean
	$(MAKE) -C solution clean
	for d in stages/*/; do $(MAKE) -C $$d clean; done
