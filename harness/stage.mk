# The build and test rules every stage shares, and the reference too.
#
# The including Makefile sets STAGE (its number; 9 for the reference, where
# every stage is solved) and PROGRAMS (each built from PROGRAM.c). Every other
# .c file in the directory is a module, linked into each program as needed.
#
#   make                 build the program(s)
#   make test            build, run this stage's tests, print the points table
#   make grade           grade this directory as the grader does: only its .c files,
#                        in a pristine copy of the stage, sandboxed (harness/grade)
#   make unit            run the CUnit tests only (make unit T=rio/readline_split: one test)
#   make SAN=address     build with a sanitizer (address, undefined, thread, address,undefined)
#   make memcheck        run the CUnit tests under valgrind
#   make carry FROM=DIR  move your own code for earlier stages' exercises from the stage
#                        directory DIR into this one (harness/carry)
#   make V=1             show the compiler's whole command lines
#   make clean           remove what make built

ROOT    := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
PYTHON  ?= /usr/bin/python3
CC      ?= cc
OPT     ?= -O2
SAN     ?=
comma   := ,
VARIANT := $(if $(SAN),$(subst $(comma),-,$(SAN)),plain)
OBJDIR  ?= build/$(VARIANT)
BINDIR  ?= $(if $(SAN),$(OBJDIR),.)

MODULES := $(filter-out $(PROGRAMS),$(basename $(wildcard *.c)))
UNITSRC := $(wildcard $(MODULES:%=$(ROOT)/tests/test_%.c))

CPPFLAGS += -DSTAGE=$(STAGE) -D_POSIX_C_SOURCE=200809L -I. -I$(ROOT)/tests
CFLAGS   += -std=c11 $(OPT) -g -MMD -MP \
            -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
SANFLAGS := $(if $(SAN),-fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all)
CFLAGS   += $(SANFLAGS)
LDFLAGS  += $(SANFLAGS)
LDLIBS   += -lpthread

LIB   := $(OBJDIR)/libstage.a
BINS  := $(PROGRAMS:%=$(BINDIR)/%)
UNIT  := $(OBJDIR)/unit
UNITOBJ := $(OBJDIR)/unit_main.o $(OBJDIR)/unit_inject.o $(UNITSRC:$(ROOT)/tests/%.c=$(OBJDIR)/%.o)
# The unit runner alone calls these through tests/inject.c, where a test can
# make one call fail (EINTR, ECONNABORTED, EAGAIN) or watch for a close; the
# programs call the system.
UNITWRAP := $(foreach f,read __read_chk recv __recv_chk write send accept accept4 close pthread_create,-Wl$(comma)--wrap=$(f))

.PHONY: all build-all unit-runner test grade unit memcheck carry clean deps dirs
all: $(BINS)
build-all: $(BINS) $(UNIT)
unit-runner: $(UNIT)

# Each step prints one short line; make V=1 shows the whole commands.
Q := $(if $(V),,@)
say = $(if $(V),,@echo "  $(1)	$(notdir $(2))";)

$(OBJDIR)/%.o: %.c | $(OBJDIR)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(OBJDIR)/test_%.o: $(ROOT)/tests/test_%.c | $(OBJDIR)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(OBJDIR)/unit_main.o: $(ROOT)/tests/unit.c | $(OBJDIR)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(OBJDIR)/unit_inject.o: $(ROOT)/tests/inject.c | $(OBJDIR)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(LIB): $(MODULES:%=$(OBJDIR)/%.o)
	$(call say,AR,$@)rm -f $@ && $(AR) rcs $@ $^
$(BINS): $(BINDIR)/%: $(OBJDIR)/%.o $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(UNIT): $(UNITOBJ) $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) $(UNITWRAP) -o $@ $^ -lcunit $(LDLIBS)
$(OBJDIR):
	$(Q)mkdir -p $@

dirs:
	@echo $(abspath $(OBJDIR)) $(abspath $(BINDIR))

deps:
	@$(ROOT)/harness/deps.sh

test: deps
	@$(PYTHON) $(ROOT)/harness/check.py --stage $(STAGE) --dir $(CURDIR) --programs "$(PROGRAMS)" \
	    $(if $(SAN),--san $(SAN)) $(if $(T),--only $(T)) $(CHECKFLAGS)

grade: deps
	@$(PYTHON) $(ROOT)/harness/grade --stage $(STAGE) $(CURDIR) $(GRADEFLAGS)

unit: deps $(UNIT)
	$(UNIT) $(T)

memcheck: deps $(UNIT)
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	    --trace-children=no $(UNIT) $(T)

carry:
	@$(if $(FROM),$(PYTHON) $(ROOT)/harness/carry $(FROM) $(CURDIR),\
	    echo "make carry FROM=DIR: DIR is your earlier stage's directory, e.g. ../3-forward"; exit 2)

clean:
	rm -rf build $(PROGRAMS:%=./%) log.txt

-include $(wildcard $(OBJDIR)/*.d)
