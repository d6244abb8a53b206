#include "task.h"

#include "arch.h"
#include "clock.h"
#include "mem.h"
#include "panic.h"
#include "printk.h"
#include "trap.h"

void context_switch(uint64_t *save_rsp, uint64_t next_rsp);
void task_entry(void);
void task_start(void *arg, void (*fn)(void *));

static struct sched sched;
static struct task idle_task;
static uint32_t next_id = 1;
static int preempt_pending;

struct sched *task_sched(void)
{
    return &sched;
}

static void arm(void)
{
    clock_set_alarm(sched_next_deadline(&sched));
}

/* Switch from the current task to `next` (interrupts off). Whoever runs afterwards — the
 * resumed task, or this one if nothing changed — arms the alarm for the scheduler's new
 * state, so no caller has to; a new task arms in task_start. */
static void switch_to(struct task *prev, struct sched_task *next)
{
    if (&prev->t != next)
        context_switch(&prev->rsp, ((struct task *)next)->rsp);
    arm();
}

static struct task *current(void)
{
    return (struct task *)sched_current(&sched);
}

static void on_timer(const struct trap_frame *f, void *ctx)
{
    (void)f;
    (void)ctx;
    if (sched_tick(&sched, clock_ns()))
        preempt_pending = 1; /* switch after the EOI: see after_irq */
    arm();
}

/* Runs after every interrupt's EOI, still on the interrupted task's stack. */
static void after_irq(void)
{
    if (!preempt_pending && !sched.need_resched)
        return;
    preempt_pending = 0;
    struct task *prev = current();
    switch_to(prev, sched_relinquish(&sched, clock_ns()));
}

void task_init(void)
{
    idle_task.t.id = 0;
    idle_task.t.name = "idle";
    if (sched_init(&sched, 0, &idle_task.t, clock_ns()) != SCHED_OK)
        panic("sched: init refused");
    trap_set_handler(VEC_TIMER, on_timer, 0);
    trap_set_after_irq(after_irq);
}

void task_start(void *arg, void (*fn)(void *))
{
    arm();
    sti();
    fn(arg);
    task_exit();
}

int task_spawn(struct task *task, const char *name, void (*fn)(void *), void *arg)
{
    uint64_t top = stack_alloc(TASK_STACK_PAGES);
    if (!top)
        return -1;
    uint64_t *sp = (uint64_t *)top;
    *--sp = (uint64_t)task_entry; /* context_switch's ret */
    *--sp = 0;                    /* rbp */
    *--sp = 0;                    /* rbx */
    *--sp = (uint64_t)arg;        /* r12 */
    *--sp = (uint64_t)fn;         /* r13 */
    *--sp = 0;                    /* r14 */
    *--sp = 0;                    /* r15 */
    task->rsp = (uint64_t)sp;
    task->stack_top = top;
    task->t.id = next_id++;
    task->t.name = name;
    task->t.arch = task;
    uint64_t flags = irq_save();
    int rc = sched_add(&sched, &task->t, clock_ns());
    arm();
    irq_restore(flags);
    return rc;
}

void task_yield(void)
{
    uint64_t flags = irq_save();
    struct task *prev = current();
    switch_to(prev, sched_relinquish(&sched, clock_ns()));
    irq_restore(flags);
}

void task_sleep_until(uint64_t deadline)
{
    uint64_t flags = irq_save();
    struct task *prev = current();
    switch_to(prev, sched_sleep_until(&sched, deadline, clock_ns()));
    irq_restore(flags);
}

void task_block(struct sched_waitq *wq)
{
    struct task *prev = current();
    switch_to(prev, sched_block(&sched, wq, clock_ns()));
}

void task_wake(struct task *task)
{
    uint64_t flags = irq_save();
    if (task->t.state == SCHED_SLEEPING || task->t.state == SCHED_BLOCKED)
        sched_wake(&sched, &task->t, clock_ns());
    arm();
    irq_restore(flags);
}

void task_wake_one(struct sched_waitq *wq)
{
    uint64_t flags = irq_save();
    sched_wake_one(&sched, wq, clock_ns());
    arm();
    irq_restore(flags);
}

void task_exit(void)
{
    cli();
    struct task *prev = current();
    switch_to(prev, sched_exit(&sched, clock_ns()));
    panic("task: a dead task was resumed");
}

void task_idle_once(void)
{
    cli();
    if (sched.runq.len) {
        struct task *prev = current(); /* before the verb changes what "current" is */
        switch_to(prev, sched_relinquish(&sched, clock_ns()));
        sti();
        return;
    }
    if (printk_pending()) {
        /* Nothing else to do: the log goes out now, a burst per call, with interrupts on
         * between bursts so a woken task takes the CPU back at once. */
        sti();
        printk_drain_step();
        return;
    }
    arm();
    sti_hlt(); /* the interrupt that wakes us may switch to a task from after_irq */
    cli();
}
