#include "selftest.h"

#include <stdbool.h>
#include <string.h>

#include "apic.h"
#include "arch.h"
#include "clock.h"
#include "exit.h"
#include "mem.h"
#include "printk.h"
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

static void memory(void)
{
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

static volatile uint64_t fired_at;

static void on_timer(const struct trap_frame *f, void *ctx)
{
    (void)f;
    (void)ctx;
    fired_at = clock_ns();
}

static void timer(void)
{
    uint64_t a = clock_ns(), b = clock_ns();
    CHECK(b >= a);
    uint64_t t0 = clock_ns();
    clock_spin_ns(2000000);
    uint64_t spun = clock_ns() - t0;
    CHECK(spun >= 2000000 && spun < 50000000);

    trap_set_handler(VEC_TIMER, on_timer, 0);
    uint64_t before = trap_count(VEC_TIMER);
    uint64_t deadline = clock_ns() + 5000000; /* 5 ms */
    fired_at = 0;
    clock_set_alarm(deadline);
    while (!fired_at && clock_ns() < deadline + 1000000000ull)
        sti_hlt(); /* halts until the alarm: the idle loop's mechanism */
    cli();
    CHECK(trap_count(VEC_TIMER) == before + 1);
    CHECK(fired_at >= deadline);
    /* Generous: under TCG on a loaded host the guest can be descheduled for a while. */
    CHECK(fired_at < deadline + 100000000);
    kprintf("selftest: timer: alarm for +5 ms fired %lu us late\n",
            fired_at >= deadline ? (fired_at - deadline) / 1000 : 0);
    trap_set_handler(VEC_TIMER, 0, 0);
}

static volatile unsigned ipis, uart_irqs;

static void on_ipi(const struct trap_frame *f, void *ctx)
{
    (void)f;
    (void)ctx;
    ipis++;
}

static void on_uart(const struct trap_frame *f, void *ctx)
{
    (void)f;
    (void)ctx;
    uart_irqs++;
    outb(0x3f8 + 1, 0); /* IER off: the interrupt has been seen */
    (void)inb(0x3f8 + 2); /* reading IIR acknowledges "transmitter empty" */
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
    outb(0x3f8 + 1, 0x02); /* IER: transmitter holding register empty */
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

static void run(const char *name, void (*fn)(void))
{
    unsigned before = failures;
    current = name;
    fn();
    kprintf("selftest: %s %s\n", name, failures == before ? "ok" : "FAILED");
}

void selftest_run(void)
{
    run("memory", memory);
    run("timer", timer);
    run("interrupts", interrupts);
    kprintf("selftest: %u checks, %u failed\n", checks, failures);
    machine_exit(failures ? EXIT_FAIL : EXIT_PASS);
}
