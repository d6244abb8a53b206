#include "console.h"

#include <string.h>

#include "apic.h"
#include "arch.h"
#include "coninput.h"
#include "conline.h"
#include "mem.h"
#include "net.h"
#include "printk.h"
#include "serial.h"
#include "task.h"
#include "trap.h"

#define UART_GSI 4 /* COM1's ISA IRQ 4; microvm's I/O APIC maps it 1:1 */
#define VEC_UART (VEC_DEVICE_BASE + UART_GSI)
#define RX_BYTES 256

static struct console {
    struct task task;
    struct sched_waitq input; /* the task, while the ring is empty */
    struct coninput rx;       /* bytes from the interrupt, for the task */
    char rx_mem[RX_BYTES];
    struct conline line;
} con;

static void cmd_help(void);

static void cmd_mem(void)
{
    const struct mem_stats *m = mem_stats();
    klog("mem", "pages in use %lu, peak %lu, total %lu (4 KiB each); %lu of those in use are "
         "connection tables not touched yet", m->pages_used, m->pages_peak,
         (uint64_t)(m->total_bytes / PAGE_SIZE), net_reserved_pages());
}

static void cmd_stats(void)
{
    cmd_mem();
    struct printk_stats p = printk_stats();
    klog("stats", "console: log %lu bytes, %lu waits on a full %lu KiB ring; input %lu bytes "
         "dropped", p.bytes, p.full_waits, p.ring_bytes / 1024, con.rx.dropped);
    net_report();
}

static const struct command {
    const char *name;
    const char *what;
    void (*run)(void);
} commands[] = {
    {"help", "this list", cmd_help},
    {"mem", "pages in use, their peak and the total", cmd_mem},
    {"stats", "mem, the console log, and the NIC, Ethernet, ARP, IP, ICMP, TCP and HTTP "
              "counters", cmd_stats},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void cmd_help(void)
{
    static const char pad[] = "      "; /* names in one column */
    for (size_t i = 0; i < N_COMMANDS; i++)
        klog("help", "%s%s%s", commands[i].name, pad + strlen(commands[i].name),
             commands[i].what);
}

static void run(const char *text)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(text, commands[i].name) == 0) {
            commands[i].run();
            return;
        }
    }
    klog("console", "unknown command \"%s\" (try help)", text);
}

static void take(struct console *c, char ch)
{
    char echo[CONLINE_ECHO_MAX];
    enum conline_event ev = conline_feed(&c->line, ch, echo);
    if (echo[0])
        kprintf("%s", echo);
    if (ev == CONLINE_LINE)
        run(conline_text(&c->line));
    else if (ev == CONLINE_TOO_LONG)
        klog("console", "line longer than %u characters, discarded", CONLINE_MAX);
    else if (ev == CONLINE_LOST)
        klog("console", "input came faster than the console took it: a line with bytes "
             "missing, discarded (stats counts them)");
}

static void console_task(void *arg)
{
    struct console *c = arg;
    for (;;) {
        char b[64];
        bool after_loss[sizeof(b)];
        cli();
        size_t n = coninput_take(&c->rx, b, after_loss, sizeof(b));
        if (!n) {
            task_block(&c->input); /* the interrupt wakes us */
            sti();
            continue;
        }
        sti();
        for (size_t i = 0; i < n; i++) {
            if (after_loss[i])
                conline_lost(&c->line);
            take(c, b[i]);
        }
    }
}

/* Everything the UART holds, into the ring; the task does the rest. */
static void on_irq(const struct trap_frame *f, void *ctx)
{
    (void)f;
    struct console *c = ctx;
    for (int ch; (ch = serial_read()) >= 0;)
        coninput_put(&c->rx, (char)ch);
    task_wake_one(&c->input);
}

void console_start(void)
{
    struct console *c = &con;
    coninput_init(&c->rx, c->rx_mem, sizeof(c->rx_mem));
    conline_init(&c->line);
    if (task_spawn(&c->task, "console", console_task, c) != 0) {
        klog("console", "no memory for its task: no commands");
        return;
    }
    trap_set_handler(VEC_UART, on_irq, c);
    /* Routed before the UART may interrupt: bytes typed during boot wait in its FIFO and
     * raise the (edge-triggered) line as soon as the receive interrupt is on. */
    if (!ioapic_route(UART_GSI, VEC_UART)) {
        klog("console", "no I/O APIC input %u for the UART: no commands", UART_GSI);
        return;
    }
    serial_rx_enable();
    klog("console", "type help, mem or stats and Enter");
}
