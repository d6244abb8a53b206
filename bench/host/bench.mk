# bench/host/bench.mk — row 3 of `make bench`: the host stacks in memory, one core,
# Quartz (lib/netstack + lib/http, built here at -O2 without sanitizers) against Debian's
# lwIP (liblwip-dev), each measured by its own program through the same harness shape.
# Included from the Makefile with:   include bench/host/bench.mk
#
#   make bench-host        build both, run them alternately (quartz lwip) x BENCH_RUNS,
#                          print every JSON row, then the medians and the ratios
#   make bench-host-build  build only: $(BENCH_HOST)/{quartz_bench,lwip_bench,site.img}
#
# BENCH_HOST_ARGS reaches both programs (e.g. --rows http --conc 8).

BENCH_HOST := $(BUILD)/bench/host
BENCH_RUNS ?= 3
BENCH_HOST_ARGS ?=
BENCH_SITE ?= site
LWIP_INC ?= /usr/include/lwip

# The same lib/ sources as the kernel and the tests, optimised, no sanitizers, no asserts.
BENCH_CFLAGS := $(WARN) -O2 -g -DNDEBUG -D_GNU_SOURCE $(LIB_INC)
# lwIP's headers are not ours to keep warning-free: -isystem quiets them.
BENCH_LWIP_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -O2 -g -DNDEBUG \
                     -D_GNU_SOURCE -isystem $(LWIP_INC) $(LIB_INC)

BENCH_QZ_LIB_SRC := $(wildcard lib/netstack/*.c) $(wildcard lib/http/*.c)
BENCH_QZ_OBJ := $(BENCH_QZ_LIB_SRC:%.c=$(BENCH_HOST)/obj/%.o) $(BENCH_HOST)/obj/quartz_bench.o
# lwip_bench reads the site image with lib/http's site.c (setup only, never timed).
BENCH_LW_OBJ := $(BENCH_HOST)/obj/lwip_bench.o $(BENCH_HOST)/obj/lib/http/site.o

.PHONY: bench-host bench-host-build bench-host-check-lwip

bench-host-build: $(BENCH_HOST)/quartz_bench $(BENCH_HOST)/lwip_bench $(BENCH_HOST)/site.img

bench-host: bench-host-build
	$(Q)sh bench/host/run.sh $(BENCH_HOST) $(BENCH_RUNS) $(BENCH_HOST_ARGS)

bench-host-check-lwip:
	$(Q)test -f $(LWIP_INC)/lwip/tcp.h -a -f $(LWIP_INC)/lwipopts.h || { \
	    echo "bench-host: lwIP headers not found in $(LWIP_INC):" \
	         "install Debian's liblwip-dev (apt-get install liblwip-dev)" >&2; exit 1; }

$(BENCH_HOST)/obj/%.o: %.c
	$(call say,CC-O2,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(BENCH_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BENCH_HOST)/obj/quartz_bench.o: bench/host/quartz_bench.c
	$(call say,CC-O2,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(BENCH_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BENCH_HOST)/obj/lwip_bench.o: bench/host/lwip_bench.c | bench-host-check-lwip
	$(call say,CC-O2,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(BENCH_LWIP_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BENCH_HOST)/quartz_bench: $(BENCH_QZ_OBJ)
	$(call say,LD,$@)
	$(Q)$(CC) $^ -o $@

$(BENCH_HOST)/lwip_bench: $(BENCH_LW_OBJ) | bench-host-check-lwip
	$(call say,LD,$@)
	$(Q)$(CC) $^ -llwip -o $@

$(BENCH_HOST)/site.img: scripts/site-bundle.py $(shell find -L '$(BENCH_SITE)' ! -type d 2>/dev/null)
	$(call say,SITE,'$(BENCH_SITE)')
	$(Q)mkdir -p $(@D)
	$(Q)/usr/bin/python3 scripts/site-bundle.py --quiet '$(BENCH_SITE)' $@

-include $(shell find $(BENCH_HOST)/obj -name '*.d' -type f 2>/dev/null)
