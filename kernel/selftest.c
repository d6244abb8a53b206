#include "selftest.h"

#include <stdbool.h>
#include <string.h>

#include "apic.h"
#include "arch.h"
#include "clock.h"
#include "exit.h"
#include "mem.h"
#include "printk.h"
#include "task.h"
#include "trap.h"

static unsigned failures, checks;
static const char *current;

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        checks++;                                                                              \
        if (!(cond)) {                                                                         \
            failures++;                                                                        \
            kprintf("selftest: %s: FAILED: %s (line %d)\n", current, #cond, __LINE__);         \
        }                                                                                      \
    } while (0)

/* Nothing writes this: boot.S leaves .bss to the ELF loader, which must have zeroed it. */
static uint8_t bss_untouched[512];

static void memory(void)
{
    bool bss_zero = true;
    for (size_t i = 0; i < sizeof(bss_untouched); i++)
        bss_zero &= ((volatile uint8_t *)bss_untouched)[i] == 0;
    CHECK(bss_zero);
    uint64_t used = mem_stats()->pages_used;
    uint8_t *a = page_alloc(), *b = page_alloc();
    CHECK(a && b && a != b);
    CHECK(!((uint64_t)a & (PAGE_SIZE - 1)));
    bool zero = true;
    for (size_t i = 0; a && i < PAGE_SIZE; i++)
        zero &= a[i] == 0;
    CHECK(zero);
    memset(a, 0x5a, PAGE_SIZE);
    page_free(a);
    uint8_t *c = page_alloc(); /* the freed page comes back, zeroed again */
    CHECK(c == a && c[0] == 0 && c[PAGE_SIZE - 1] == 0);
    page_free(b);
    page_free(c);
    CHECK(mem_stats()->pages_used == used);
    uint8_t *run = pages_alloc(16);
    CHECK(run != NULL);
    if (run) {
        run[16 * PAGE_SIZE - 1] = 1; /* the whole run is ours */
        for (int i = 0; i < 16; i++)
            page_free(run + i * PAGE_SIZE);
    }
    uint64_t top = stack_alloc(4);
    CHECK(top != 0);
    CHECK(paging_mapped(top - 8) && paging_mapped(top - 4 * PAGE_SIZE));
    CHECK(!paging_mapped(stack_guard(top, 4))); /* the guard page */
    *(volatile uint64_t *)(top - 8) = 42;       /* and the stack itself works */
    CHECK(*(volatile uint64_t *)(top - 8) == 42);
}

static void timer(void)
{
    uint64_t a = clock_ns(), b = clock_ns();
    CHECK(b >= a);
    uint64_t t0 = clock_ns();
    clock_spin_ns(2000000);
    uint64_t spun = clock_ns() - t0;
    CHECK(spun >= 2000000 && spun < 50000000);

    /* The alarm, observed through the interrupt count: the timer's handler belongs to the
     * scheduler and stays installed. */
    uint64_t before = trap_count(VEC_TIMER), fired_at = 0;
    uint64_t deadline = clock_ns() + 5000000; /* 5 ms */
    cli();
    clock_set_alarm(deadline);
    while (trap_count(VEC_TIMER) == before && clock_ns() < deadline + 1000000000ull) {
        sti_hlt(); /* halts until the alarm: the idle loop's mechanism */
        cli();
    }
    fired_at = clock_ns();
    sti();
    CHECK(trap_count(VEC_TIMER) == before + 1);
    CHECK(fired_at >= deadline);
    /* Generous: under TCG on a loaded host the guest can be descheduled for a while. */
    CHECK(fired_at < deadline + 100000000);
    kprintf("selftest: timer: alarm for +5 ms fired %lu us late\n",
            fired_at >= deadline ? (fired_at - deadline) / 1000 : 0);
}

static volatile unsigned ipis, uart_irqs;

static void on_ipi(const struct trap_frame *f, void *ctx)
{
    (void)f;
    (void)ctx;
    ipis++;
}

/* The UART raises IRQ 4 when its transmitter is empty and IER asks for it; the tests use
 * it as a real device interrupt through the I/O APIC. */
static void uart_thre_arm(void)
{
    outb(0x3f8 + 1, 0x02); /* IER: transmitter holding register empty */
}

static void uart_thre_ack(void)
{
    outb(0x3f8 + 1, 0);   /* IER off: one interrupt is all we asked for */
    (void)inb(0x3f8 + 2); /* reading IIR acknowledges "transmitter empty" */
}

static void on_uart(const struct trap_frame *f, void *ctx)
{
    (void)f;
    (void)ctx;
    uart_irqs++;
    uart_thre_ack();
}

static void interrupts(void)
{
    const uint8_t vec_ipi = 0x40, vec_uart = VEC_DEVICE_BASE + 4;
    trap_set_handler(vec_ipi, on_ipi, 0);
    apic_self_ipi(vec_ipi);
    sti();
    for (int i = 0; i < 1000 && !ipis; i++)
        __asm__ volatile("pause");
    cli();
    CHECK(ipis == 1);

    /* A real device interrupt through the I/O APIC: the UART raises IRQ 4 when its
     * transmitter is empty and that interrupt is enabled. */
    trap_set_handler(vec_uart, on_uart, 0);
    CHECK(ioapic_route(4, vec_uart));
    uart_thre_arm();
    uint64_t end = clock_ns() + 100000000;
    sti();
    while (!uart_irqs && clock_ns() < end)
        __asm__ volatile("pause");
    cli();
    ioapic_mask(4);
    CHECK(uart_irqs >= 1);
    trap_set_handler(vec_uart, 0, 0);
    trap_set_handler(vec_ipi, 0, 0);
}

/* --- scheduler: real tasks, real context switches --- */

static char trace[64];
static unsigned trace_len;

static void note(char a, char b)
{
    if (trace_len + 3 < sizeof(trace)) {
        trace[trace_len++] = a;
        trace[trace_len++] = b;
        trace[trace_len++] = ' ';
        trace[trace_len] = 0;
    }
}

/* Run the scheduler from the idle task until every task given is dead (or 2 s pass). */
static bool until_dead(struct task **tasks, int n)
{
    uint64_t end = clock_ns() + 2000000000ull;
    for (;;) {
        bool all = true;
        for (int i = 0; i < n; i++)
            all &= tasks[i]->t.state == SCHED_DEAD;
        if (all)
            return true;
        if (clock_ns() > end)
            return false;
        task_idle_once();
    }
}

static void yielder(void *arg)
{
    for (char i = '1'; i <= '3'; i++) {
        note(*(const char *)arg, i);
        task_yield();
    }
}

static volatile int spin_flag;
static volatile uint64_t spinner_start, spinner_saw;

static void spinner(void *arg)
{
    (void)arg;
    spinner_start = clock_ns();
    while (!spin_flag) /* never yields: only the timer can take the CPU away */
        __asm__ volatile("pause");
    spinner_saw = clock_ns();
}

static void flagger(void *arg)
{
    (void)arg;
    spin_flag = 1;
}

static volatile uint64_t slept_from, slept_until, woke_at;

static void sleeper(void *arg)
{
    (void)arg;
    slept_from = clock_ns();
    slept_until = slept_from + 3000000;
    task_sleep_until(slept_until);
    woke_at = clock_ns();
}

static struct sched_waitq irq_wq;
static volatile int waiter_resumed;

static void waiter(void *arg)
{
    (void)arg;
    cli();
    task_block(&irq_wq); /* woken by the IPI handler below */
    sti();
    waiter_resumed = 1;
}

/* The UART's "transmitter empty" interrupt, through the I/O APIC: a real device
 * interrupt waking a blocked task. */
static void wake_from_uart(const struct trap_frame *f, void *ctx)
{
    (void)f;
    (void)ctx;
    uart_thre_ack();
    task_wake_one(&irq_wq);
}

static void scheduler(void)
{
    static struct task a, b, c, d, e, w;
    static const char A = 'A', B = 'B';

    /* These tests run as the idle task, which any READY task preempts at once: spawn each
     * group with interrupts off, or the first task would start before its partner exists. */

    /* Fairness: two tasks that yield interleave A1 B1 A2 B2 A3 B3. */
    cli();
    CHECK(task_spawn(&a, "A", yielder, (void *)&A) == 0);
    CHECK(task_spawn(&b, "B", yielder, (void *)&B) == 0);
    struct task *ab[] = {&a, &b};
    CHECK(until_dead(ab, 2));
    CHECK(strcmp(trace, "A1 B1 A2 B2 A3 B3 ") == 0);
    kprintf("selftest: scheduler: yield order %s\n", trace);

    /* Preemption: a task that never yields loses the CPU when its slice ends. */
    cli();
    CHECK(task_spawn(&c, "spinner", spinner, 0) == 0);
    CHECK(task_spawn(&d, "flagger", flagger, 0) == 0);
    struct task *cd[] = {&c, &d};
    CHECK(until_dead(cd, 2));
    CHECK(spin_flag == 1 && spinner_saw >= spinner_start);
    uint64_t held = spinner_saw - spinner_start;
    CHECK(held >= SCHED_DEFAULT_SLICE_NS && held < 20 * SCHED_DEFAULT_SLICE_NS);
    kprintf("selftest: scheduler: spinner preempted after %lu us\n", held / 1000);

    /* Sleeping: woken by the alarm at (not before) its deadline. */
    cli();
    CHECK(task_spawn(&e, "sleeper", sleeper, 0) == 0);
    struct task *ee[] = {&e};
    CHECK(until_dead(ee, 1));
    CHECK(woke_at >= slept_until && woke_at < slept_until + 100000000);
    kprintf("selftest: scheduler: sleep of 3 ms woke %lu us late\n",
            woke_at >= slept_until ? (woke_at - slept_until) / 1000 : 0);

    /* A blocked task woken by a device interrupt (the UART's, via the I/O APIC). */
    const uint8_t vec = VEC_DEVICE_BASE + 4;
    trap_set_handler(vec, wake_from_uart, 0);
    CHECK(ioapic_route(4, vec));
    cli();
    CHECK(task_spawn(&w, "waiter", waiter, 0) == 0);
    task_yield(); /* let it block */
    cli();
    CHECK(w.t.state == SCHED_BLOCKED && !waiter_resumed);
    uart_thre_arm();
    struct task *ww[] = {&w};
    CHECK(until_dead(ww, 1));
    CHECK(waiter_resumed == 1);
    ioapic_mask(4);
    trap_set_handler(vec, 0, 0);
    kprintf("selftest: scheduler: blocked task woken by the UART interrupt\n");
}

static bool formats(const char *want, size_t want_len, const char *got, size_t got_len)
{
    return got_len == want_len && strcmp(got, want) == 0;
}

/* ksnprintf: literal runs found eight bytes at a time from any alignment, conversions
 * between them, and truncation that still says the full length. */
static void printk_format(void)
{
    static const char text[] = "0123456789abcdefghijklmnopqrstuvwxyz%%ABCDEFGHIJKLMNOP";
    char fmt[80], out[96], want[96];
    for (size_t start = 0; start < 9; start++) { /* every alignment of the run's start */
        size_t n = 0;
        for (size_t i = start; text[i]; i++)
            fmt[n++] = text[i];
        fmt[n] = 0;
        size_t w = 0;
        for (size_t i = 0; i < n; i++) {
            want[w++] = fmt[i];
            if (fmt[i] == '%')
                i++; /* "%%" prints one */
        }
        want[w] = 0;
        size_t got = ksnprintf(out, sizeof(out), fmt, 0);
        CHECK(formats(want, w, out, got));
    }
    size_t got = ksnprintf(out, sizeof(out), "mac %02x:%02x, %s=%u%c|%5d|%lx.", 0xa, 0xbc,
                           "port", 80u, '!', -42, 0xdeadbeeful);
    CHECK(formats("mac 0a:bc, port=80!|  -42|deadbeef.", 35, out, got));
    char small[8];
    got = ksnprintf(small, sizeof(small), "abcdefghijklmnop%u", 7u);
    CHECK(got == 17 && strcmp(small, "abcdefg") == 0);
}

static void run(const char *name, void (*fn)(void))
{
    unsigned before = failures;
    current = name;
    fn();
    kprintf("selftest: %s %s\n", name, failures == before ? "ok" : "FAILED");
}

static void deliberate(void)
{
    CHECK(1 + 1 == 3); /* selftest=fail: must be reported and must fail the run */
}

void selftest_run(bool deliberate_failure)
{
    run("memory", memory);
    run("printk", printk_format);
    run("timer", timer);
    run("interrupts", interrupts);
    run("scheduler", scheduler);
    if (deliberate_failure)
        run("deliberate-failure", deliberate);
    kprintf("selftest: %u checks, %u failed\n", checks, failures);
    machine_exit(failures ? EXIT_FAIL : EXIT_PASS);
}
