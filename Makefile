# The proxy lab kit. See README.md.
#
#   make               build the reference solution (solution/)
#   make run           build it and run it on 127.0.0.1:8080
#   make test          everything CI checks: the reference passes every test
#                      (also under sanitizers and valgrind), each starter fails
#                      its own stage and passes the earlier ones, stages/ is
#                      what `make stages` writes, and the harness's self-tests
#   make stages        write stages/ from solution/, and labs.md's points tables
#                      from harness/rubric.txt (commit the result)
#   make check-stages  fail if stages/ differs from what make stages writes
#   make clean

PYTHON   := /usr/bin/python3
PORT     ?= 8080
# Build outputs that may sit in a stage directory; check-stages ignores them.
OUTPUTS  := build log.txt $(shell awk '!/^\#/ && NF { print $$3 }' solution/STAGES)

.PHONY: all run test deps stages check-stages selftest teeth sanitizers memcheck clean

all:
	$(MAKE) -C solution

run: all
	@echo "The proxy arrives in stage 3. Until then, make run starts the stage-1 echo server:"
	@echo "echoserver listening on port $(PORT): try   nc 127.0.0.1 $(PORT)   (Ctrl-C stops it)"
	cd solution && exec ./echoserver $(PORT)

deps:
	@harness/deps.sh stages valgrind

test: deps check-stages selftest teeth sanitizers memcheck
	@echo "make test: all checks passed"

stages: deps
	harness/mkstages stages
	$(PYTHON) harness/labs_points.py

check-stages: deps
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && harness/mkstages "$$tmp" && \
	if diff -r $(OUTPUTS:%=-x %) "$$tmp" stages; then \
	    $(PYTHON) harness/labs_points.py --check && \
	    echo "check-stages: stages/ matches solution/, and labs.md's points match the rubric"; \
	else \
	    echo "check-stages: stages/ differs from what make stages writes (above): run make stages and commit"; \
	    exit 1; \
	fi

selftest: deps
	$(PYTHON) -m pytest -c harness/pytest.ini --rootdir harness harness/selftest -q

teeth: deps
	$(PYTHON) harness/teeth.py

# The reference's own tests under AddressSanitizer with UBSan, and ThreadSanitizer.
sanitizers: deps
	@log=$$(mktemp) && trap 'rm -f "$$log"' EXIT && for san in address,undefined thread; do \
	    echo "reference under -fsanitize=$$san:"; \
	    $(PYTHON) harness/check.py --stage 9 --dir solution --san $$san >"$$log" 2>&1 \
	        || { cat "$$log"; exit 1; }; \
	    tail -n 1 "$$log"; \
	done

# The reference's CUnit tests under valgrind.
memcheck: deps
	$(MAKE) -s -C solution memcheck

clean:
	$(MAKE) -C solution clean
	for d in stages/*/; do $(MAKE) -C $$d clean; done
