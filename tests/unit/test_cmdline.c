/* The kernel's command-line parser, on the host: every key, every bad value. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../../kernel/cmdline.h"

struct warnings {
    int n;
    char last[128];
};

static void warn(void *ctx, const char *why, const char *word, int len)
{
    struct warnings *w = ctx;
    w->n++;
    snprintf(w->last, sizeof(w->last), "%s: %.*s", why, len, word);
}

static struct cmdline parse(const char *s, struct warnings *w)
{
    struct cmdline c;
    memset(w, 0, sizeof(*w));
    cmdline_parse(s, &c, warn, w);
    return c;
}

Test(cmdline, defaults_are_qemu_user_networking)
{
    struct warnings w;
    struct cmdline c = parse("", &w);
    cr_assert_eq(c.ip, 0x0a00020f);
    cr_assert_eq(c.prefix_len, 24);
    cr_assert_eq(c.gw, 0x0a000202);
    cr_assert_eq(c.port, 80);
    cr_assert(!c.debug && !c.selftest && !c.panic_test && !c.costs);
    cr_assert_eq(w.n, 0);
}

Test(cmdline, parses_every_key)
{
    struct warnings w;
    struct cmdline c = parse("  ip=192.168.7.20/16\tgw=192.168.0.1 port=8080 log=debug "
                             "selftest panic=test costs ", &w);
    cr_assert_eq(c.ip, 0xc0a80714);
    cr_assert_eq(c.prefix_len, 16);
    cr_assert_eq(c.gw, 0xc0a80001);
    cr_assert_eq(c.port, 8080);
    cr_assert(c.debug && c.selftest && c.panic_test && c.costs);
    cr_assert(!c.selftest_fail && !c.panic_stack);
    cr_assert_eq(w.n, 0, "%s", w.last);
}

Test(cmdline, takes_a_seed_for_reproducible_sessions)
{
    struct warnings w;
    struct cmdline c = parse("seed=18446744073709551615", &w);
    cr_assert(c.has_seed);
    cr_assert_eq(c.seed, UINT64_MAX);
    cr_assert_eq(w.n, 0, "%s", w.last);
    c = parse("seed=12x", &w);
    cr_assert(!c.has_seed);
    cr_assert_eq(w.n, 1);
    c = parse("", &w);
    cr_assert(!c.has_seed, "without seed= the TSC seeds the stack");
}

Test(cmdline, parses_the_deliberate_failure_switches)
{
    struct warnings w;
    struct cmdline c = parse("selftest=fail panic=stack", &w);
    cr_assert(c.selftest && c.selftest_fail && c.panic_stack && !c.panic_test);
    cr_assert_eq(w.n, 0, "%s", w.last);
    c = parse("selftest=maybe", &w);
    cr_assert(!c.selftest && !c.selftest_fail);
    cr_assert_str_eq(w.last, "bad value, ignored: selftest=maybe");
}

Test(cmdline, ip_without_prefix_keeps_slash_24)
{
    struct warnings w;
    struct cmdline c = parse("ip=10.1.2.3", &w);
    cr_assert_eq(c.ip, 0x0a010203);
    cr_assert_eq(c.prefix_len, 24);
}

Test(cmdline, parses_virtio_mmio_devices_as_qemu_writes_them)
{
    struct warnings w;
    struct cmdline c = parse("virtio_mmio.device=512@0xfeb00e00:12 "
                             "virtio_mmio.device=4K@0xfeb01000:13", &w);
    cr_assert_eq(w.n, 0, "%s", w.last);
    cr_assert_eq(c.n_mmio, 2);
    cr_assert_eq(c.mmio[0].size, 512);
    cr_assert_eq(c.mmio[0].base, 0xfeb00e00);
    cr_assert_eq(c.mmio[0].irq, 12);
    cr_assert_eq(c.mmio[1].size, 4096);
    cr_assert_eq(c.mmio[1].irq, 13);
}

Test(cmdline, log_sync_writes_through_and_combines_with_debug)
{
    struct warnings w;
    struct cmdline c = parse("log=sync", &w);
    cr_assert(c.log_sync && !c.debug);
    c = parse("log=debug log=sync", &w);
    cr_assert(c.log_sync && c.debug);
    cr_assert_eq(w.n, 0, "%s", w.last);
    c = parse("log=info", &w);
    cr_assert(!c.log_sync, "deferred output is the default");
}

Test(cmdline, unknown_keys_are_reported_and_ignored)
{
    struct warnings w;
    struct cmdline c = parse("colour=blue port=81 quiet", &w);
    cr_assert_eq(w.n, 2);
    cr_assert_str_eq(w.last, "unknown key, ignored: quiet");
    cr_assert_eq(c.port, 81);
}

Test(cmdline, bad_values_are_reported_and_leave_defaults)
{
    const char *bad[] = {"ip=10.0.2", "ip=10.0.2.256", "ip=10.0.2.15/31", "ip=10.0.2.15/0",
                         "ip=10.0.2.15/24x", "ip=a.b.c.d", "gw=10.0.0.1.5", "port=0",
                         "port=65536", "port=80x", "port=", "log=loud", "panic=now",
                         "virtio_mmio.device=512@0xfeb00e00", "virtio_mmio.device=@1:2",
                         "virtio_mmio.device=512@0xfeb00e00:999",
                         "ip=99999999999999999999.0.0.1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct warnings w;
        struct cmdline c = parse(bad[i], &w);
        cr_assert_eq(w.n, 1, "'%s' was not reported", bad[i]);
        cr_assert(strstr(w.last, "bad value"), "'%s': %s", bad[i], w.last);
        cr_assert_eq(c.ip, 0x0a00020f, "'%s' changed ip", bad[i]);
        cr_assert_eq(c.port, 80, "'%s' changed port", bad[i]);
        cr_assert_eq(c.n_mmio, 0);
    }
}

Test(cmdline, too_many_devices_are_refused_not_overflowed)
{
    char line[4096] = "";
    for (int i = 0; i < CMDLINE_MAX_MMIO + 3; i++) {
        char one[64];
        snprintf(one, sizeof(one), "virtio_mmio.device=512@0x%x:%d ", 0xfeb00000 + i * 0x200,
                 5 + i % 200);
        strcat(line, one);
    }
    struct warnings w;
    struct cmdline c = parse(line, &w);
    cr_assert_eq(c.n_mmio, CMDLINE_MAX_MMIO);
    cr_assert_eq(w.n, 3);
}
