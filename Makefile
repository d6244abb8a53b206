# Quartz — one non-recursive Makefile.
#   make          build everything that exists (host libs, tools, tests, freestanding lib)
#   make check    unit tests + replay of every pcap fixture + freestanding purity check
#   make test     make check + the pytest integration suite
#   make run      the unikernel under QEMU serving $(SITE) on http://localhost:$(PORT)/
#   make run-tap  the stack as a host process on a tap device in a private namespace
#   make replay PCAP=pcaps/x/y.pcap [OUT=actual.pcap]
#   make deps     install the Debian packages the project needs (only when missing)
# V=1 shows full commands.

BUILD ?= build
HOST := $(BUILD)/host
FREE := $(BUILD)/free

CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif

Q := $(if $(V),,@)
say = $(if $(V),,@printf '  %-6s %s\n' $(1) $(2);)

WARN := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wno-unused-parameter
DEPFLAGS = -MMD -MP
LIB_INC := $(patsubst %,-I%,$(filter-out lib/libc/include,$(wildcard lib/*/include)))

# Hosted: the same lib sources plus harness and tests, under ASan and UBSan.
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
HOST_CFLAGS := $(WARN) -O1 -g $(SAN) -D_GNU_SOURCE $(LIB_INC) -Iharness
HOST_LDFLAGS := $(SAN)
HOST_LIBS := -lpcap

# Freestanding: what the kernel will link. No libc headers but lib/libc/include.
FREE_CFLAGS := $(WARN) -O2 -ffreestanding -fno-builtin -nostdinc -nostdlib -mno-red-zone \
               -fno-pic -fno-stack-protector -fno-common -mgeneral-regs-only \
               -fno-tree-loop-distribute-patterns -fno-omit-frame-pointer \
               -isystem lib/libc/include -isystem $(shell $(CC) -print-file-name=include) $(LIB_INC)

# Every lib/<name>/ is a pure library: built hosted for tests and freestanding for the kernel.
LIBC_SRC := lib/libc/string.c
LIB_SRC := $(filter-out $(LIBC_SRC),$(wildcard lib/*/*.c))
HARNESS_SRC := $(filter-out harness/replay_main.c harness/taprun.c harness/relay.c,\
                              $(wildcard harness/*.c))
UNIT_SRC := $(wildcard tests/unit/*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(HOST)/%.o)
HARNESS_OBJ := $(HARNESS_SRC:%.c=$(HOST)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(HOST)/%.o)
FREE_OBJ := $(LIB_SRC:%.c=$(FREE)/%.o) $(LIBC_SRC:%.c=$(FREE)/%.o)

# The kernel: freestanding lib/ objects plus kernel/, linked at 1 MiB.
KERNEL_C := $(wildcard kernel/*.c)
KERNEL_S := $(wildcard kernel/*.S)
KERNEL_OBJ := $(KERNEL_C:%.c=$(FREE)/%.o) $(KERNEL_S:%.S=$(FREE)/%.o)
KERNEL_ELF := $(BUILD)/quartz-unikernel.elf
KERNEL_CFLAGS := $(FREE_CFLAGS) -Ikernel

# The static site linked into the kernel: SITE names any directory. The image is rebuilt
# when the script changes or when the stamp does; the stamp holds SITE and a digest of the
# tree's listing (names, sizes, mtimes, through symlinks) and is rewritten only when that
# differs, so edits, additions, deletions and renames anywhere under SITE, and a new SITE,
# all reach the kernel, whatever the file names look like.
SITE ?= site
SITE_IMG := $(BUILD)/site.img
SITE_STAMP := $(BUILD)/site.path
SITE_SIG := $(SITE) $(shell find -L '$(SITE)' -mindepth 1 ! -type d -printf '%P\t%s\t%T@\n' \
                      2>/dev/null | LC_ALL=C sort | cksum)

REPLAY := $(HOST)/replay
TAPRUN := $(HOST)/taprun
RELAY := $(HOST)/relay
UNIT := $(HOST)/unit-tests

.PHONY: FORCE all check test unit replay-all freestanding run run-tap replay deps clean print-free-cflags \
        bench
all: $(REPLAY) $(TAPRUN) $(RELAY) $(UNIT) $(FREE_OBJ) $(KERNEL_ELF)

$(HOST)/%.o: %.c
	$(call say,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(HOST)/tests/unit/%.o: tests/unit/%.c
	$(call say,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(FREE)/%.o: %.c
	$(call say,CC-FREE,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(FREE_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(FREE)/kernel/%.o: kernel/%.c
	$(call say,CC-KERN,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(KERNEL_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(FREE)/kernel/%.o: kernel/%.S
	$(call say,AS,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(KERNEL_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(SITE_STAMP): FORCE
	$(Q)mkdir -p $(@D)
	$(Q)printf '%s\n' '$(SITE_SIG)' | cmp -s - $@ || printf '%s\n' '$(SITE_SIG)' > $@

$(SITE_IMG): scripts/site-bundle.py $(SITE_STAMP)
	$(call say,SITE,'$(SITE)')
	$(Q)/usr/bin/python3 scripts/site-bundle.py '$(SITE)' $@

# kernel/site.S .incbin's the image: the only kernel object that depends on it.
$(FREE)/kernel/site.o: kernel/site.S $(SITE_IMG)
	$(call say,AS,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(KERNEL_CFLAGS) $(DEPFLAGS) -DSITE_IMAGE='"$(SITE_IMG)"' -c $< -o $@

FORCE:

$(KERNEL_ELF): $(KERNEL_OBJ) $(FREE_OBJ) kernel/linker.ld
	$(call say,LD,$@)
	$(Q)ld -nostdlib -static -z max-page-size=4096 -z noexecstack -T kernel/linker.ld \
	    -o $@ $(KERNEL_OBJ) $(FREE_OBJ)

$(REPLAY): $(HOST)/harness/replay_main.o $(HARNESS_OBJ) $(LIB_OBJ)
	$(call say,LD,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) $^ $(HOST_LIBS) -o $@

$(TAPRUN): $(HOST)/harness/taprun.o $(HARNESS_OBJ) $(LIB_OBJ)
	$(call say,LD,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) $^ $(HOST_LIBS) -o $@

# The impairing relay between a tap device and a UDP socket (netem for fault runs).
$(RELAY): $(HOST)/harness/relay.o $(HARNESS_OBJ) $(LIB_OBJ)
	$(call say,LD,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) $^ $(HOST_LIBS) -o $@

# Kernel code that is pure C (no hardware) is unit-tested on the host too.
KERNEL_HOSTED := kernel/cmdline.c kernel/clockcal.c kernel/logring.c kernel/conline.c kernel/coninput.c \
                 kernel/kformat.c
KERNEL_HOSTED_OBJ := $(KERNEL_HOSTED:%.c=$(HOST)/%.o)

$(UNIT): $(UNIT_OBJ) $(HARNESS_OBJ) $(LIB_OBJ) $(KERNEL_HOSTED_OBJ)
	$(call say,LD,$@)
	$(Q)$(CC) $(HOST_LDFLAGS) $^ $(HOST_LIBS) -lcriterion -o $@

deps:
	$(Q)scripts/deps.sh

# Criterion runs each test in its own process; -j2 matches the machine.
unit: $(UNIT)
	$(Q)cd $(CURDIR) && ./$(UNIT) -j2

replay-all: $(REPLAY)
	$(Q)scripts/replay-all.sh $(REPLAY)

freestanding: $(FREE_OBJ)
	$(Q)scripts/check-freestanding.sh $(FREE_OBJ)

check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory freestanding unit replay-all

test: check
	$(Q)/usr/bin/python3 -m pytest -v tests/integration

replay: $(REPLAY)
	$(Q)test -n "$(PCAP)" || { echo "usage: make replay PCAP=path/to.pcap [OUT=actual.pcap]"; exit 2; }
	$(Q)./$(REPLAY) $(if $(OUT),--write $(OUT)) $(PCAP)

# The unikernel under QEMU, its web server forwarded to localhost:$(PORT).
PORT ?= 8080
run: deps all
	$(Q)scripts/run-guest.sh $(PORT)

# The stack as a host process on a tap device, with TCP services (echo, discard, source).
run-tap: deps $(TAPRUN)
	$(Q)scripts/run-tap.sh $(TAPRUN)

# Host-side stack benchmarks (Quartz vs lwIP, -O2, no sanitizers): bench-host.
include bench/host/bench.mk

# Every benchmark, Quartz and its peers alternately: a table, build/bench.json, a plot and
# BENCHMARKS.md (scripts/bench/run.py; BENCH_QUICK=1 for a short run).
bench: deps all
	$(Q)scripts/bench/deps.sh && /usr/bin/python3 scripts/bench/run.py

clean:
	rm -rf $(BUILD)

-include $(shell find $(HOST) $(FREE) -name '*.d' -type f 2>/dev/null)

# For tests that compile a probe the way lib/ is compiled freestanding.
print-free-cflags:
	@echo $(FREE_CFLAGS)
