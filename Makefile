# mlrec: every tools/mlr-X.c becomes bin/mlr-X, linked against lib/libmlr.a.
# Tests: tests/unit/test_X.c become build/tests/test_X; tests/run.sh runs
# them and every tests/tools/*.sh, and prints "N passed, N failed".

CC      ?= cc
CFLAGS  ?= -O2 -g
# Flags the code needs, kept apart from CFLAGS so `make CFLAGS=...` keeps them.
MLR_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Ilib -I/usr/include/x86_64-linux-gnu/openblas-pthread
LDLIBS  += -lcsv -ljansson -lopenblas -lpthread -lm
BUILD   ?= build
BIN     ?= bin

LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:lib/%.c=$(BUILD)/lib/%.o)
TOOL_SRC := $(wildcard tools/mlr-*.c)
TOOLS    := $(TOOL_SRC:tools/%.c=$(BIN)/%)
TEST_SRC := $(wildcard tests/unit/test_*.c)
TESTS    := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
REPLAYS  := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/replay/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCHES  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: FORCE all test check-asan check-valgrind deps install uninstall data pipeline bench fuzz clean
all: $(TOOLS) $(TESTS) $(REPLAYS) $(BENCHES)

$(BUILD)/commit.o: $(BUILD)/commit.c
	$(CC) $(CFLAGS) $(MLR_CFLAGS) -c -o $@ $<

$(BUILD)/lib/%.o: lib/%.c $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MLR_CFLAGS) -c -o $@ $<

$(BUILD)/libmlr.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BIN)/%: tools/%.c $(BUILD)/libmlr.a $(BUILD)/commit.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MLR_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/commit.o $(BUILD)/libmlr.a $(LDLIBS)

# The commit the tools are built from (--version; lib/mlr.c): one small
# generated file, rewritten only when the commit changes, so that a make
# with nothing new rebuilds nothing. `make MLR_COMMIT=...` outside git.
MLR_COMMIT ?= $(shell git -C "$(CURDIR)" describe --always --dirty 2>/dev/null || echo unknown)
$(BUILD)/commit.c: FORCE
	@mkdir -p $(@D)
	@printf 'const char mlr_build_commit[] = "%s";\n' "$(MLR_COMMIT)" >$@.new
	@if cmp -s $@.new $@; then rm -f $@.new; else mv -f $@.new $@; fi
FORCE:

$(BUILD)/tests/%: tests/unit/%.c tests/unit/check.h $(BUILD)/libmlr.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MLR_CFLAGS) $(LDFLAGS) -Itests/unit -o $@ $< $(BUILD)/libmlr.a $(LDLIBS)

# The fuzz harnesses, built with a plain main() that replays saved inputs.
$(BUILD)/replay/%: tests/fuzz/%.c tests/fuzz/replay_main.c $(BUILD)/libmlr.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MLR_CFLAGS) $(LDFLAGS) -Itests/fuzz -o $@ $< tests/fuzz/replay_main.c $(BUILD)/libmlr.a $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libmlr.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MLR_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmlr.a $(LDLIBS)

# Tests see the tools through MLR_BIN and the unit tests through MLR_TESTBIN.
test: all
	MLR_BIN=$(CURDIR)/$(BIN) MLR_TESTBIN=$(CURDIR)/$(BUILD)/tests MLR_REPLAY=$(CURDIR)/$(BUILD)/replay sh tests/run.sh

# The same tests, built with AddressSanitizer and UBSan into their own tree.
check-asan:
	$(MAKE) BUILD=build/asan BIN=build/asan/bin \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	MLR_SANITIZED=1 MLR_BIN=$(CURDIR)/build/asan/bin MLR_TESTBIN=$(CURDIR)/build/asan/tests MLR_REPLAY=$(CURDIR)/build/asan/replay sh tests/run.sh

# The unit tests and a small flow of every tool under valgrind's memcheck.
check-valgrind: all
	MLR_BIN=$(CURDIR)/$(BIN) MLR_TESTBIN=$(CURDIR)/$(BUILD)/tests sh tests/valgrind.sh

# Debian packages, installed only where missing (needs root for apt-get).
DEPS := libcsv-dev libopenblas-dev libjansson-dev parallel gnuplot-nox gcc make \
        clang libclang-rt-14-dev python3-numpy unzip curl valgrind time \
        openssh-server openssh-client rsync help2man man-db
deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	    | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all present"; \
	elif [ "$$(id -u)" -ne 0 ]; then echo "deps: run as root to install:" $$missing >&2; exit 1; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$missing; fi

# make install [PREFIX=/usr/local] [DESTDIR=] [BIN=bin]: the tools BIN
# holds (nothing is built: make first), the pipelines as mlrec-X commands,
# man pages (help2man) and bash completion; mk/install.sh says where.
PREFIX ?= /usr/local
install:
	@BIN="$(BIN)" PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" sh mk/install.sh install
uninstall:
	@BIN="$(BIN)" PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" sh mk/install.sh uninstall

data:
	@sh pipelines/fetch-data.sh data

pipeline: all
	@sh pipelines/pipeline.sh

bench: all
	@sh bench/run.sh

# make fuzz FUZZ_SECONDS=600 runs each harness that long.
FUZZ_SECONDS ?= 60
fuzz:
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(BIN)
