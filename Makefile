# cell — one static library from the folders, one binary, the tests.
# make            build build/cell
# make test       install what is missing, build, run every test (scripts/test.sh)
# make demo       build and run the demo (scripts/demo.sh)
# make SAN=1      an ASan+UBSan build in build-san/

VERSION  := 0.1.0
CC       ?= cc
SAN      ?=
BUILD    ?= $(if $(SAN),build-san,build)

PKGS     := jansson libseccomp libcap libcgroup libarchive libcrypto libcurl
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wshadow -Wformat=2 \
            -fno-strict-aliasing -D_FORTIFY_SOURCE=2 -DCELL_VERSION='"$(VERSION)"' \
            $(shell pkg-config --cflags $(PKGS))
# libarchive, libcurl and libcrypto are loaded by images/dl.c when first used
LDLIBS   := $(shell pkg-config --libs $(filter-out libarchive libcrypto libcurl,$(PKGS)))
ifneq ($(SAN),)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -U_FORTIFY_SOURCE
LDFLAGS  += -fsanitize=address,undefined
endif

LIB_DIRS := runtime isolate cgroups netns vmshim images
LIB_SRCS := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_SRCS := $(wildcard cli/*.c)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test demo unit fuzz bench clean

all: $(BUILD)/cell

$(BUILD)/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# the default seccomp profile is linked in as data
$(BUILD)/runtime/seccomp_default.o: runtime/seccomp-default.json
$(BUILD)/vmshim/seccomp_vmm.o: vmshim/seccomp-vmm.json

$(BUILD)/libcell.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/cell: $(CLI_OBJS) $(BUILD)/libcell.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libcell.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tests/recvtty: tests/integration/recvtty.c $(BUILD)/libcell.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/seccompagent: tests/integration/seccompagent.c $(BUILD)/libcell.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# the VMM's development driver (tests/lab/vmm.bats)
$(BUILD)/tests/vmmrun: tests/vm/vmmrun.c $(BUILD)/libcell.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lpthread

# runs inside busybox containers, which have no libc: static, no sanitizers
$(BUILD)/tests/probe: tests/integration/probe.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -static -o $@ $<

# the image unit tests write archives with libarchive themselves
$(BUILD)/tests/test_images: LDLIBS += $(shell pkg-config --libs libarchive libcrypto libcurl)
$(BUILD)/tests/test_vmboot: LDLIBS += $(shell pkg-config --libs libarchive)

unit: $(UNIT_BINS) $(BUILD)/tests/recvtty $(BUILD)/tests/probe $(BUILD)/tests/seccompagent $(BUILD)/tests/vmmrun

# libFuzzer harness: clang only, always with ASan+UBSan
$(BUILD)/fuzz/fuzz_spec: tests/fuzz/fuzz_spec.c runtime/spec.c runtime/spec_kernel.c runtime/spec_vm.c runtime/schema.c runtime/err.c runtime/util.c
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -DCELL_VERSION='"$(VERSION)"' \
		$(shell pkg-config --cflags jansson) -o $@ $^ $(LDLIBS)

fuzz: $(BUILD)/fuzz/fuzz_spec

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

bench:
	bash bench/lifecycle.sh

clean:
	rm -rf build build-san
