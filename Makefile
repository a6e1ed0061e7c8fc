# Janus-C: the only build entry. Plain make, no configure step.
#   make            build/janus and the static library (release, -O2 -g)
#   make check      install deps if missing, build (-Werror), ASan/UBSan build, fuzzers,
#                   then run the whole suite with CTest (one summary line at the end)
#   make run        install deps if missing, build, run the main job on the embedded default
#   make asan       build build-asan/ with AddressSanitizer + UBSan
#   make fuzz       build libFuzzer targets (clang) into build-fuzz/
#   make bench      kernel/model benchmarks (see docs/PERFORMANCE.md)
#   make lint       banned functions, include direction (layer order); make format-check: clang-format
# Knobs: CC, BUILD, WERROR=1, SAN=1, NO_AVX2=1, OPT=-O2
# SPDX-License-Identifier: MIT

CC      ?= gcc
BUILD   ?= build
OPT     ?= -O2
WERROR  ?= 0

PKGS       := libcjson libpcre2-8 libmicrohttpd libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
MPI_CFLAGS := $(shell mpicc --showme:compile 2>/dev/null)
MPI_LIBS   := $(shell mpicc --showme:link 2>/dev/null)

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter \
           -Wno-sign-compare -Wvla -Wno-format-truncation \
           $(if $(findstring clang,$(CC)),-Wno-unknown-warning-option)
ifeq ($(WERROR),1)
WARN    += -Werror
endif
CFLAGS  := -std=c11 -D_GNU_SOURCE -g $(OPT) -fno-strict-aliasing -pthread $(WARN) \
           -Isrc -Iinclude $(PKG_CFLAGS) $(MPI_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS  := $(PKG_LIBS) $(MPI_LIBS) -lm -pthread
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
# The SIMD kernel files (avx2/avx512 in the name) keep UBSan but not ASan: with ASan, gcc 12
# took over 12 minutes and 1.5 GB for avx512.c alone (its always-inline register blocks);
# their reads are checked against the scalar reference in test_kernels / test_qdot instead.
SIMD_SAN := -fno-sanitize=address
endif
# SIMD files get the ISA flags; dispatch chooses at run time (kernels/dispatch.c).
SIMD_FLAGS := -mavx2 -mfma -mf16c
SIMD512_FLAGS := -mavx512f -mavx512bw -mavx512vl $(SIMD_FLAGS)
# The integer path's AVX-512 file also uses VNNI (dispatch.c checks cpuid for AVX512_VNNI first).
VNNI_FLAGS := -mavx512vnni
ifeq ($(NO_AVX2),1)
CFLAGS  += -DJANUS_NO_AVX2
endif

LIB_SRC  := $(shell find src -name '*.c' | sort)
CLI_SRC  := $(sort $(wildcard cli/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libjanus.a
# The live page (src/http/live.html, GET /) is compiled in as a C array made by
# scripts/embed.c, a build tool compiled with the host compiler and no flags of ours.
HOSTCC   ?= $(CC)
EMBED    := $(BUILD)/tools/embed
PAGE_GEN := $(BUILD)/gen/live_html.c
PAGE_OBJ := $(BUILD)/obj/gen/live_html.o
LIB_OBJ  += $(PAGE_OBJ)
BIN      := $(BUILD)/janus
# The embedded default model (issue 14, docs/TRAINING.md): assembled into the janus binary.
DEFAULT_MODEL := models/janus-moe-kjv-q8_0.gguf

TEST_SRC := $(sort $(wildcard tests/unit/test_*.c tests/kernels/test_*.c tests/actsched/test_*.c \
              tests/golden/test_*.c tests/mpi/test_*.c))
TEST_BIN := $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(TEST_SRC)))
TEST_MAIN_OBJ := $(BUILD)/obj/tests/test_main.o

.PHONY: all check run asan fuzz bench lint format format-check clean deps deps-tests tests ctestfile
all: $(BIN) tests

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) $(if $(findstring avx512,$<),$(SIMD512_FLAGS) $(SIMD_SAN) $(if $(findstring qdot_avx512,$<),$(VNNI_FLAGS)),$(if $(findstring avx2,$<),$(SIMD_FLAGS) $(SIMD_SAN))) -MMD -MP -c $< -o $@

$(EMBED): scripts/embed.c
	@mkdir -p $(dir $@)
	@echo "  HOSTCC $<"
	@$(HOSTCC) -std=c11 -O1 $< -o $@

$(PAGE_GEN): src/http/live.html $(EMBED)
	@mkdir -p $(dir $@)
	@echo "  EMBED $<"
	@$(EMBED) janus_live_html $< $@.tmp && mv $@.tmp $@

$(PAGE_OBJ): $(PAGE_GEN)
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/cli/default_model.o: CFLAGS += -DJANUS_DEFAULT_MODEL_FILE='"$(DEFAULT_MODEL)"'
$(BUILD)/obj/cli/default_model.o: $(DEFAULT_MODEL)

$(LIB): $(LIB_OBJ)
	@rm -f $@
	@echo "  AR    $@"
	@ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $(CLI_OBJ) $(LIB) $(LDLIBS) -o $@

tests: $(TEST_BIN)

define test_rule
$(BUILD)/tests/$(notdir $(basename $(1))): $(BUILD)/obj/$(basename $(1)).o $(TEST_MAIN_OBJ) $(LIB)
	@mkdir -p $$(dir $$@)
	@echo "  LINK  $$@"
	@$$(CC) $$(LDFLAGS) $$^ $$(LDLIBS) -o $$@
endef
$(foreach t,$(TEST_SRC),$(eval $(call test_rule,$(t))))

# Example programs: built against include/janus.h alone (no -Isrc) and the library.
EXAMPLE_SRC := $(sort $(wildcard examples/*.c))
EXAMPLE_BIN := $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)
.PHONY: examples
all: examples
examples: $(EXAMPLE_BIN)
$(BUILD)/examples/%: examples/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC    $@"
	@$(CC) $(filter-out -Isrc,$(CFLAGS)) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

deps:
	@bash scripts/install-deps.sh

deps-tests:
	@bash scripts/install-deps.sh --tests

# The README's test command. Everything below runs as one CTest suite.
check: deps-tests
	$(MAKE) WERROR=1 all
	$(MAKE) WERROR=1 BUILD=build-asan SAN=1 OPT=-O1 all
	$(MAKE) fuzz
	bash scripts/gen-ctest.sh > $(BUILD)/CTestTestfile.cmake
	cd $(BUILD) && ctest --output-on-failure -j2 --timeout 1200

# The README's main command.
run: deps
	$(MAKE) all
	bash scripts/demo.sh

asan:
	$(MAKE) BUILD=build-asan SAN=1 OPT=-O1 all

FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(FUZZ_SRC))
# The library is compiled once with clang (fuzzer-no-link + ASan + UBSan, scalar kernels);
# each target links against it.
fuzz:
	@$(MAKE) --no-print-directory CC=clang BUILD=build-fuzz OPT=-O1 \
	  EXTRA_CFLAGS="-DJANUS_NO_AVX2 -fsanitize=fuzzer-no-link,address,undefined" build-fuzz/libjanus.a
	@$(MAKE) --no-print-directory $(FUZZ_BIN)

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c build-fuzz/libjanus.a
	@echo "  FUZZ  $@"
	@clang -std=c11 -D_GNU_SOURCE -DJANUS_NO_AVX2 -g -O1 -fsanitize=fuzzer,address,undefined \
	  -Isrc -Iinclude $(PKG_CFLAGS) $(MPI_CFLAGS) $< build-fuzz/libjanus.a $(PKG_LIBS) $(MPI_LIBS) \
	  -lm -pthread -o $@

bench: $(BIN)
	bash scripts/bench.sh

lint:
	@bash scripts/lint.sh

FORMAT_FILES = $$(find src cli include tests examples -name '*.[ch]')
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run -Werror $(FORMAT_FILES) && echo "format-check: ok"

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
