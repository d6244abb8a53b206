/*
 * test_sched.c — the scheduler core: round robin, preemption, sleeping, idle, wait queues,
 * deadlines, exit, accounting, and refusal of programmer errors.
 *
 * The host cannot switch stacks, so most tests drive a small simulated kernel (sim_run):
 * each task has a script (run so many ms, yield, sleep, block, wake, exit); the kernel
 * takes the task sched says is current, logs "<name><turn>" (with "@<ms>" when stamped),
 * and performs that task's next verb. Time only moves when a task runs or the CPU halts
 * in idle until sched_next_deadline() or a scheduled interrupt; the timer interrupt calls
 * sched_tick() and yields when told. Between turns the sim checks the queues' invariants
 * (links, lengths, states, sleeper order, idle never queued), so every scenario also
 * checks the structure. Short scenarios that need an exact instant call the verbs directly.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "sched/sched.h"

#define MS SCHED_NS_PER_MS
#define US (MS / 1000)
#define T0 (1000 * MS) /* nothing special about zero, so do not start there */
#define SLICE (10 * MS)

/* ---- A simulated kernel ---------------------------------------------------------------- */

enum op_kind { OP_EXIT = 0, OP_RUN, OP_YIELD, OP_SLEEP, OP_SLEEP_UNTIL, OP_BLOCK, OP_WAKE_ONE };

struct op {
    enum op_kind kind;
    uint64_t ns;
    struct sched_waitq *wq;
};

/* clang-format off */
#define RUN(ms) {OP_RUN, (ms) * MS, NULL}
#define YIELD {OP_YIELD, 0, NULL}
#define SLEEP(ms) {OP_SLEEP, (ms) * MS, NULL}            /* for ms from now */
#define SLEEP_UNTIL(ms) {OP_SLEEP_UNTIL, (ms) * MS, NULL} /* until T0 + ms */
#define BLOCK(q) {OP_BLOCK, 0, (q)}
#define WAKE_ONE(q) {OP_WAKE_ONE, 0, (q)}
#define EXIT {OP_EXIT, 0, NULL}
/* clang-format on */

struct actor {
    struct sched_task t; /* first: the sim finds the actor from the task */
    const struct op *prog;
    size_t pc;
    uint64_t left; /* of the OP_RUN in progress; 0: not started */
    int turns;
};

/* A device interrupt at `at` that wakes one (or all) of `wq`. */
struct irq {
    uint64_t at;
    struct sched_waitq *wq;
    bool all;
    bool done;
};

struct sim {
    struct sched s;
    struct sched_task idle;
    struct actor a[8];
    size_t n;
    struct irq irq[8];
    size_t nirq;
    uint64_t now;
    uint64_t period; /* 0: tickless (one-shot at next_deadline); else a periodic tick */
    bool stamp;
    char log[1024];
};

static void sim_init(struct sim *m, uint64_t slice_ns)
{
    memset(m, 0, sizeof(*m));
    m->now = T0;
    m->idle.name = "idle";
    struct sched_cfg cfg = {.slice_ns = slice_ns};
    cr_assert_eq(sched_init(&m->s, &cfg, &m->idle, T0), SCHED_OK);
}

static struct actor *spawn(struct sim *m, const char *name, const struct op *prog)
{
    struct actor *a = &m->a[m->n++];
    a->t.id = (uint32_t)m->n;
    a->t.name = name;
    a->prog = prog;
    cr_assert_eq(sched_add(&m->s, &a->t, m->now), SCHED_OK);
    return a;
}

static void at_irq(struct sim *m, uint64_t ms, struct sched_waitq *wq, bool all)
{
    m->irq[m->nirq++] = (struct irq){.at = T0 + ms * MS, .wq = wq, .all = all};
}

static void note(struct sim *m, const char *what, int turn)
{
    size_t len = strlen(m->log);
    char *p = m->log + len;
    size_t cap = sizeof(m->log) - len;
    int n = snprintf(p, cap, "%s%s", len ? " " : "", what);
    if (turn)
        n += snprintf(p + n, cap - (size_t)n, "%d", turn);
    if (m->stamp) {
        uint64_t rel = m->now - T0;
        n += snprintf(p + n, cap - (size_t)n, "@%llu", (unsigned long long)(rel / MS));
        if (rel % MS)
            snprintf(p + n, cap - (size_t)n, ".%03llu", (unsigned long long)(rel % MS / US));
    }
}

/* The structure behind the scheduler's answers: checked between every two turns. */
static void check_invariants(const struct sim *m)
{
    const struct sched *s = &m->s;
    const struct sched_task *prev = NULL;
    size_t n = 0;
    for (const struct sched_task *t = s->runq.head; t; prev = t, t = t->next, n++) {
        cr_assert_neq(t, s->idle, "idle is on the run queue");
        cr_assert_neq(t, s->current, "the current task is on the run queue");
        cr_assert_eq(t->state, SCHED_READY, "%s on the run queue is %s", t->name,
                     sched_state_name(t->state));
        cr_assert_eq(t->prev, prev);
    }
    cr_assert_eq(s->runq.tail, prev);
    cr_assert_eq(s->runq.len, n);
    prev = NULL;
    n = 0;
    for (const struct sched_task *t = s->sleepers.head; t; prev = t, t = t->next, n++) {
        cr_assert_eq(t->state, SCHED_SLEEPING);
        cr_assert_eq(t->prev, prev);
        if (prev)
            cr_assert_leq(prev->wake_at, t->wake_at, "sleepers out of order");
    }
    cr_assert_eq(s->sleepers.tail, prev);
    cr_assert_eq(s->sleepers.len, n);
    cr_assert_eq(s->current->state, SCHED_RUNNING);
    cr_assert_eq(s->need_resched, s->current == s->idle && s->runq.len > 0);
}

static uint64_t next_irq(const struct sim *m)
{
    uint64_t at = UINT64_MAX;
    for (size_t i = 0; i < m->nirq; i++)
        if (!m->irq[i].done && m->irq[i].at < at)
            at = m->irq[i].at;
    return at;
}

static void fire_irqs(struct sim *m)
{
    for (size_t i = 0; i < m->nirq; i++) {
        struct irq *q = &m->irq[i];
        if (q->done || q->at > m->now)
            continue;
        q->done = true;
        if (q->all)
            sched_wake_all(&m->s, q->wq, m->now);
        else
            sched_wake_one(&m->s, q->wq, m->now);
    }
}

/* When the CPU is next interrupted: the timer (one-shot at the deadline, or the first
 * periodic tick at or after it) or a device. */
static uint64_t next_event(const struct sim *m)
{
    uint64_t timer = sched_next_deadline(&m->s);
    if (timer < m->now)
        timer = m->now; /* already due: the one-shot fires at once */
    if (m->period && timer != UINT64_MAX) {
        uint64_t rel = timer - T0;
        timer = T0 + (rel + m->period - 1) / m->period * m->period;
    }
    uint64_t irq = next_irq(m);
    return irq < timer ? irq : timer;
}

/* An interrupt arrived at m->now: device handlers, the timer, preemption on the way out. */
static bool interrupt(struct sim *m)
{
    fire_irqs(m);
    if (!sched_tick(&m->s, m->now))
        return false;
    struct sched_task *next = sched_relinquish(&m->s, m->now);
    cr_assert_eq(next, sched_current(&m->s));
    cr_assert(next != &m->idle || m->s.runq.len == 0, "idle picked while a task is ready");
    return true;
}

/* Idle halts until the next interrupt; returns false when none will ever come. */
static bool idle_turn(struct sim *m)
{
    for (int guard = 0; guard < 1000; guard++) {
        uint64_t at = next_event(m);
        if (at == UINT64_MAX)
            return false;
        m->now = at;
        if (interrupt(m))
            return true;
    }
    cr_assert_fail("idle spins without progress");
    return false;
}

static void actor_turn(struct sim *m, struct actor *a)
{
    struct sched *s = &m->s;
    struct sched_task *next;
    for (int guard = 0;; guard++) {
        cr_assert_lt(guard, 1000, "%s runs without progress at %llu ns", a->t.name,
                     (unsigned long long)(m->now - T0));
        const struct op *op = &a->prog[a->pc];
        switch (op->kind) {
        case OP_RUN: {
            if (!a->left)
                a->left = op->ns;
            uint64_t at = next_event(m);
            if (m->now + a->left <= at) {
                m->now += a->left;
                a->left = 0;
                a->pc++;
                continue;
            }
            a->left -= at - m->now;
            m->now = at;
            if (interrupt(m))
                return;
            continue;
        }
        case OP_WAKE_ONE:
            a->pc++;
            sched_wake_one(s, op->wq, m->now);
            continue; /* waking never switches */
        case OP_YIELD: next = sched_relinquish(s, m->now); break;
        case OP_SLEEP: next = sched_sleep_until(s, m->now + op->ns, m->now); break;
        case OP_SLEEP_UNTIL: next = sched_sleep_until(s, T0 + op->ns, m->now); break;
        case OP_BLOCK: next = sched_block(s, op->wq, m->now); break;
        case OP_EXIT: next = sched_exit(s, m->now); break;
        }
        cr_assert_eq(next, sched_current(s), "a verb returned a task that is not current");
        cr_assert(next != &m->idle || s->runq.len == 0, "idle picked while a task is ready");
        if (op->kind != OP_EXIT)
            a->pc++;
        return;
    }
}

/* Run until every task is done or waits for something that will never come. */
static void sim_run(struct sim *m)
{
    for (int guard = 0; guard < 1000; guard++) {
        check_invariants(m);
        struct sched_task *cur = sched_current(&m->s);
        if (cur == &m->idle) {
            note(m, "idle", 0);
            if (!idle_turn(m))
                return;
        } else {
            struct actor *a = (struct actor *)cur;
            note(m, cur->name, ++a->turns);
            actor_turn(m, a);
        }
    }
    cr_assert_fail("simulation did not settle: %s", m->log);
}

/* ---- Round robin ----------------------------------------------------------------------- */

Test(sched, two_yielding_tasks_alternate)
{
    struct sim m;
    sim_init(&m, SLICE);
    const struct op prog[] = {RUN(1), YIELD, RUN(1), YIELD, RUN(1), EXIT};
    spawn(&m, "A", prog);
    spawn(&m, "B", prog);
    sim_run(&m);
    cr_assert_str_eq(m.log, "idle A1 B1 A2 B2 A3 B3 idle");
}

Test(sched, three_tasks_take_turns_and_leavers_drop_out_of_the_rotation)
{
    struct sim m;
    sim_init(&m, SLICE);
    const struct op a[] = {YIELD, YIELD, YIELD, EXIT};
    const struct op b[] = {YIELD, EXIT};
    const struct op c[] = {YIELD, YIELD, EXIT};
    spawn(&m, "A", a);
    spawn(&m, "B", b);
    spawn(&m, "C", c);
    sim_run(&m);
    cr_assert_str_eq(m.log, "idle A1 B1 C1 A2 B2 C2 A3 C3 A4 idle");
}

Test(sched, a_task_alone_that_yields_keeps_the_cpu_and_idle_never_runs)
{
    struct sim m;
    sim_init(&m, SLICE);
    const struct op a[] = {YIELD, YIELD, EXIT};
    spawn(&m, "A", a);
    sim_run(&m);
    cr_assert_str_eq(m.log, "idle A1 A2 A3 idle");
    cr_assert_eq(m.a[0].t.switches, 1, "a yield that keeps the CPU is not a switch");
}

Test(sched, a_new_task_joins_at_the_tail_of_the_run_queue)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"}, b = {.name = "B"},
                      c = {.name = "C"};
    sched_init(&s, NULL, &idle, T0);
    sched_add(&s, &a, T0);
    sched_add(&s, &b, T0);
    cr_assert_eq(sched_relinquish(&s, T0), &a);
    cr_assert_eq(sched_add(&s, &c, T0 + MS), SCHED_OK);
    cr_assert_eq(sched_relinquish(&s, T0 + MS), &b);
    cr_assert_eq(sched_relinquish(&s, T0 + 2 * MS), &c);
    cr_assert_eq(sched_relinquish(&s, T0 + 3 * MS), &a);
    cr_assert_eq(sched_relinquish(&s, T0 + 4 * MS), &b);
}

/* ---- Preemption ------------------------------------------------------------------------ */

Test(sched, a_task_that_never_yields_is_preempted_when_its_slice_ends_and_not_before)
{
    struct sim m;
    sim_init(&m, SLICE);
    m.stamp = true;
    const struct op a[] = {RUN(25), EXIT};
    const struct op b[] = {RUN(3), EXIT};
    spawn(&m, "A", a);
    spawn(&m, "B", b);
    sim_run(&m);
    /* A is cut at 10 ms; back alone at 13 ms it runs its last 15 ms without a break. */
    cr_assert_str_eq(m.log, "idle@0 A1@0 B1@10 A2@13 idle@28");
}

Test(sched, tick_says_preempt_exactly_at_the_end_of_the_slice)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"}, b = {.name = "B"};
    sched_init(&s, &(struct sched_cfg){.slice_ns = SLICE}, &idle, T0);
    sched_add(&s, &a, T0);
    sched_add(&s, &b, T0);
    cr_assert_eq(sched_relinquish(&s, T0 + MS), &a);
    for (uint64_t t = T0 + MS; t < T0 + MS + SLICE; t += MS / 2)
        cr_assert_not(sched_tick(&s, t), "preempted at %llu ns", (unsigned long long)(t - T0));
    cr_assert_not(sched_tick(&s, T0 + MS + SLICE - 1));
    cr_assert(sched_tick(&s, T0 + MS + SLICE));
    cr_assert_eq(sched_relinquish(&s, T0 + MS + SLICE), &b);
    cr_assert_eq(a.state, SCHED_READY);
    /* B gets a whole slice of its own. */
    cr_assert_not(sched_tick(&s, T0 + MS + 2 * SLICE - 1));
    cr_assert(sched_tick(&s, T0 + MS + 2 * SLICE));
}

Test(sched, a_task_alone_is_never_preempted)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"};
    sched_init(&s, &(struct sched_cfg){.slice_ns = SLICE}, &idle, T0);
    sched_add(&s, &a, T0);
    cr_assert_eq(sched_relinquish(&s, T0), &a);
    for (uint64_t t = T0; t <= T0 + 100 * SLICE; t += MS)
        cr_assert_not(sched_tick(&s, t));
    cr_assert_eq(sched_current(&s), &a);
    /* As soon as someone else is ready, the long-overdue slice ends. */
    struct sched_task b = {.name = "B"};
    sched_add(&s, &b, T0 + 100 * SLICE);
    cr_assert(sched_tick(&s, T0 + 100 * SLICE));
}

Test(sched, the_default_slice_is_ten_milliseconds)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"}, b = {.name = "B"};
    sched_init(&s, &(struct sched_cfg){0}, &idle, T0);
    cr_assert_eq(s.cfg.slice_ns, 10 * MS);
    sched_add(&s, &a, T0);
    sched_add(&s, &b, T0);
    sched_relinquish(&s, T0);
    cr_assert_not(sched_tick(&s, T0 + 10 * MS - 1));
    cr_assert(sched_tick(&s, T0 + 10 * MS));
}

/* ---- Sleeping -------------------------------------------------------------------------- */

Test(sched, a_sleeper_is_not_runnable_before_its_time_and_runs_at_the_first_tick_after)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"};
    sched_init(&s, NULL, &idle, T0);
    sched_add(&s, &a, T0);
    sched_relinquish(&s, T0);
    uint64_t until = T0 + 2 * MS + 500 * US;
    cr_assert_eq(sched_sleep_until(&s, until, T0), &idle);
    cr_assert_eq(a.state, SCHED_SLEEPING);
    cr_assert_eq(a.wake_at, until);
    for (uint64_t t = T0 + MS; t < until; t += MS) {
        cr_assert_not(sched_tick(&s, t));
        cr_assert_eq(a.state, SCHED_SLEEPING);
        cr_assert_eq(s.runq.len, 0);
        cr_assert_eq(sched_relinquish(&s, t), &idle, "a sleeper ran early");
    }
    cr_assert(sched_tick(&s, T0 + 3 * MS), "the first tick after wake_at must wake it");
    cr_assert_eq(a.state, SCHED_READY);
    cr_assert_eq(sched_relinquish(&s, T0 + 3 * MS), &a);
}

Test(sched, a_sleeper_wakes_at_its_exact_wake_at)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"};
    sched_init(&s, NULL, &idle, T0);
    sched_add(&s, &a, T0);
    sched_relinquish(&s, T0);
    sched_sleep_until(&s, T0 + 5 * MS, T0);
    cr_assert_not(sched_tick(&s, T0 + 5 * MS - 1));
    cr_assert(sched_tick(&s, T0 + 5 * MS));
    cr_assert_eq(sched_relinquish(&s, T0 + 5 * MS), &a);
}

Test(sched, sleepers_wake_in_wake_at_order_and_ties_in_the_order_they_slept)
{
    struct sim m;
    sim_init(&m, SLICE);
    m.stamp = true;
    const struct op a[] = {SLEEP_UNTIL(30), EXIT};
    const struct op b[] = {SLEEP_UNTIL(10), EXIT};
    const struct op c[] = {SLEEP_UNTIL(20), EXIT};
    const struct op d[] = {SLEEP_UNTIL(10), EXIT};
    spawn(&m, "A", a);
    spawn(&m, "B", b);
    spawn(&m, "C", c);
    spawn(&m, "D", d);
    sim_run(&m);
    cr_assert_str_eq(m.log, "idle@0 A1@0 B1@0 C1@0 D1@0 idle@0 B2@10 D2@10 idle@10 "
                            "C2@20 idle@20 A2@30 idle@30");
}

Test(sched, with_a_periodic_tick_a_sleeper_runs_at_the_first_tick_at_or_after_its_time)
{
    struct sim m;
    sim_init(&m, SLICE);
    m.stamp = true;
    m.period = 4 * MS;
    const struct op a[] = {SLEEP_UNTIL(10), EXIT};
    const struct op b[] = {SLEEP_UNTIL(16), EXIT};
    spawn(&m, "A", a);
    spawn(&m, "B", b);
    sim_run(&m);
    cr_assert_str_eq(m.log, "idle@0 A1@0 B1@0 idle@0 A2@12 idle@12 B2@16 idle@16");
}

Test(sched, a_periodic_sleeper_and_a_busy_task_share_the_cpu)
{
    struct sim m;
    sim_init(&m, SLICE);
    m.stamp = true;
    const struct op a[] = {RUN(1), SLEEP(5), RUN(1), SLEEP(5), RUN(1), EXIT};
    const struct op b[] = {RUN(30), EXIT};
    spawn(&m, "A", a);
    spawn(&m, "B", b);
    sim_run(&m);
    /* A's wake-ups at 6 and 17 wait for B's slices to end at 11 and 22. */
    cr_assert_str_eq(m.log, "idle@0 A1@0 B1@1 A2@11 B2@12 A3@22 B3@23 idle@33");
}

Test(sched, sleeping_until_now_or_earlier_is_a_yield)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"}, b = {.name = "B"};
    sched_init(&s, NULL, &idle, T0);
    sched_add(&s, &a, T0);
    sched_add(&s, &b, T0);
    sched_relinquish(&s, T0);
    cr_assert_eq(sched_sleep_until(&s, T0 + MS, T0 + MS), &b);
    cr_assert_eq(a.state, SCHED_READY);
    cr_assert_eq(s.sleepers.len, 0);
    cr_assert_eq(sched_sleep_until(&s, T0, T0 + 2 * MS), &a);
    cr_assert_eq(s.runq.head, &b);
}

Test(sched, sched_wake_ends_a_sleep_early)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"}, b = {.name = "B"};
    sched_init(&s, NULL, &idle, T0);
    sched_add(&s, &a, T0);
    sched_add(&s, &b, T0);
    sched_relinquish(&s, T0);
    sched_sleep_until(&s, UINT64_MAX, T0);   /* A: forever */
    sched_sleep_until(&s, T0 + 50 * MS, T0); /* B */
    cr_assert_eq(sched_wake(&s, &a, T0 + MS), SCHED_OK);
    cr_assert_eq(s.sleepers.head, &b);
    cr_assert_eq(s.sleepers.len, 1);
    cr_assert_eq(sched_next_deadline(&s), 0, "idle must give way to A now");
    cr_assert(sched_tick(&s, T0 + MS));
    cr_assert_eq(sched_relinquish(&s, T0 + MS), &a);
}

/* ---- Idle ------------------------------------------------------------------------------ */

Test(sched, idle_runs_only_when_nothing_is_ready_and_is_never_queued)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"};
    cr_assert_eq(sched_init(&s, NULL, &idle, T0), SCHED_OK);
    cr_assert_eq(sched_current(&s), &idle);
    cr_assert_eq(idle.state, SCHED_RUNNING);
    cr_assert_eq(sched_relinquish(&s, T0), &idle, "nothing ready: idle goes on");
    cr_assert_eq(s.runq.len, 0);
    cr_assert_not(sched_tick(&s, T0 + 100 * SLICE));

    sched_add(&s, &a, T0 + MS);
    cr_assert(s.need_resched);
    cr_assert(sched_tick(&s, T0 + MS), "idle must give way at once");
    cr_assert_eq(sched_relinquish(&s, T0 + MS), &a);
    cr_assert_not(s.need_resched);
    cr_assert_eq(s.runq.len, 0, "idle was queued when it yielded");
    cr_assert_eq(idle.state, SCHED_READY);
    cr_assert_eq(sched_relinquish(&s, T0 + 2 * MS), &a, "A alone must not hand over to idle");
    cr_assert_eq(sched_exit(&s, T0 + 3 * MS), &idle);
    cr_assert_eq(idle.state, SCHED_RUNNING);
    cr_assert_eq(s.runq.len, 0);
}

/* ---- Wait queues ----------------------------------------------------------------------- */

Test(sched, a_blocked_task_is_woken_by_an_interrupt_and_preempts_idle_at_once)
{
    struct sim m;
    struct sched_waitq rx = {0};
    sim_init(&m, SLICE);
    m.stamp = true;
    const struct op a[] = {BLOCK(&rx), RUN(1), EXIT};
    spawn(&m, "A", a);
    at_irq(&m, 5, &rx, false);
    sim_run(&m);
    cr_assert_str_eq(m.log, "idle@0 A1@0 idle@0 A2@5 idle@6");
}

Test(sched, interrupts_wake_blocked_tasks_in_fifo_order_while_another_task_runs)
{
    struct sim m;
    struct sched_waitq rx = {0};
    sim_init(&m, SLICE);
    m.stamp = true;
    const struct op waiter[] = {BLOCK(&rx), RUN(1), EXIT};
    const struct op d[] = {RUN(50), EXIT};
    spawn(&m, "A", waiter);
    spawn(&m, "B", waiter);
    spawn(&m, "C", waiter);
    spawn(&m, "D", d);
    at_irq(&m, 5, &rx, false);
    at_irq(&m, 15, &rx, false);
    at_irq(&m, 25, &rx, false);
    sim_run(&m);
    /* Each woken task waits for D's slice (no priorities), then D resumes at the tail. */
    cr_assert_str_eq(m.log, "idle@0 A1@0 B1@0 C1@0 D1@0 A2@10 D2@11 B2@21 D3@22 C2@32 "
                            "D4@33 idle@53");
}

Test(sched, wake_all_wakes_every_waiter_in_fifo_order)
{
    struct sim m;
    struct sched_waitq rx = {0};
    sim_init(&m, SLICE);
    m.stamp = true;
    const struct op waiter[] = {BLOCK(&rx), EXIT};
    spawn(&m, "A", waiter);
    spawn(&m, "B", waiter);
    spawn(&m, "C", waiter);
    at_irq(&m, 5, &rx, true);
    sim_run(&m);
    cr_assert_str_eq(m.log, "idle@0 A1@0 B1@0 C1@0 idle@0 A2@5 B2@5 C2@5 idle@5");
    cr_assert_eq(rx.q.len, 0);
}

Test(sched, wake_counts_are_exact)
{
    struct sched s;
    struct sched_waitq wq = {0};
    struct sched_task idle = {.name = "idle"}, t[3] = {{.name = "A"}, {.name = "B"}, {.name = "C"}};
    sched_init(&s, NULL, &idle, T0);
    cr_assert_eq(sched_wake_one(&s, &wq, T0), 0, "an empty queue wakes nobody");
    cr_assert_eq(sched_wake_all(&s, &wq, T0), 0);
    cr_assert_eq(s.runq.len, 0);
    for (int i = 0; i < 3; i++)
        sched_add(&s, &t[i], T0);
    cr_assert_eq(sched_relinquish(&s, T0), &t[0]);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sched_block(&s, &wq, T0), i < 2 ? &t[i + 1] : &idle);
        cr_assert_eq(t[i].waitq, &wq);
    }
    cr_assert_eq(wq.q.len, 3);
    cr_assert_eq(sched_wake_one(&s, &wq, T0), 1);
    cr_assert_eq(sched_wake_all(&s, &wq, T0), 2);
    cr_assert_eq(s.stats.woken, 3);
    cr_assert_eq(wq.q.len, 0);
    cr_assert_eq(s.runq.len, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(t[i].state, SCHED_READY);
        cr_assert_null(t[i].waitq);
    }
    cr_assert_eq(sched_current(&s), &idle, "waking never switches");
}

Test(sched, a_task_that_wakes_another_keeps_the_cpu_until_its_slice_ends)
{
    struct sim m;
    struct sched_waitq ready = {0};
    sim_init(&m, SLICE);
    m.stamp = true;
    const struct op consumer[] = {BLOCK(&ready), RUN(1), EXIT};
    const struct op producer[] = {RUN(2), WAKE_ONE(&ready), RUN(20), EXIT};
    spawn(&m, "C", consumer);
    spawn(&m, "P", producer);
    sim_run(&m);
    cr_assert_str_eq(m.log, "idle@0 C1@0 P1@0 C2@10 P2@11 idle@23");
}

Test(sched, sched_wake_takes_a_blocked_task_out_of_the_middle_of_its_queue)
{
    struct sched s;
    struct sched_waitq wq = {0};
    struct sched_task idle = {.name = "idle"}, t[3] = {{.name = "A"}, {.name = "B"}, {.name = "C"}};
    sched_init(&s, NULL, &idle, T0);
    for (int i = 0; i < 3; i++)
        sched_add(&s, &t[i], T0);
    sched_relinquish(&s, T0);
    for (int i = 0; i < 3; i++)
        sched_block(&s, &wq, T0);
    cr_assert_eq(wq.q.head, &t[0]);
    cr_assert_eq(t[0].next, &t[1]);
    cr_assert_eq(sched_wake(&s, &t[1], T0), SCHED_OK);
    cr_assert_eq(wq.q.len, 2);
    cr_assert_eq(wq.q.head, &t[0]);
    cr_assert_eq(wq.q.tail, &t[2]);
    cr_assert_eq(t[0].next, &t[2]);
    cr_assert_eq(t[2].prev, &t[0]);
    cr_assert_eq(s.runq.head, &t[1]);
    cr_assert_eq(sched_wake_one(&s, &wq, T0), 1);
    cr_assert_eq(sched_wake_one(&s, &wq, T0), 1);
    cr_assert_eq(sched_relinquish(&s, T0), &t[1]);
    cr_assert_eq(sched_relinquish(&s, T0), &t[0]);
    cr_assert_eq(sched_relinquish(&s, T0), &t[2]);
}

/* ---- Deadlines ------------------------------------------------------------------------- */

Test(sched, next_deadline_is_never_when_nothing_is_pending)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"};
    sched_init(&s, NULL, &idle, T0);
    cr_assert_eq(sched_next_deadline(&s), UINT64_MAX, "idle alone");
    sched_add(&s, &a, T0);
    sched_relinquish(&s, T0);
    cr_assert_eq(sched_next_deadline(&s), UINT64_MAX, "a task alone is never preempted");
}

Test(sched, next_deadline_is_now_when_idle_runs_and_a_task_is_ready)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"};
    sched_init(&s, NULL, &idle, T0);
    sched_add(&s, &a, T0);
    cr_assert_eq(sched_next_deadline(&s), 0);
}

Test(sched, next_deadline_is_the_slice_end_when_another_task_is_ready)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"}, b = {.name = "B"};
    sched_init(&s, &(struct sched_cfg){.slice_ns = SLICE}, &idle, T0);
    sched_add(&s, &a, T0);
    sched_relinquish(&s, T0 + 3 * MS);
    sched_add(&s, &b, T0 + 5 * MS);
    cr_assert_eq(sched_next_deadline(&s), T0 + 3 * MS + SLICE);
    sched_relinquish(&s, T0 + 7 * MS); /* B starts a fresh slice */
    cr_assert_eq(sched_next_deadline(&s), T0 + 7 * MS + SLICE);
}

Test(sched, next_deadline_is_the_earliest_sleeper_or_slice_end)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"}, b = {.name = "B"},
                      c = {.name = "C"}, d = {.name = "D"};
    sched_init(&s, &(struct sched_cfg){.slice_ns = SLICE}, &idle, T0);
    sched_add(&s, &a, T0);
    sched_add(&s, &b, T0);
    sched_relinquish(&s, T0);
    sched_sleep_until(&s, T0 + 40 * MS, T0); /* A */
    cr_assert_eq(sched_current(&s), &b);
    cr_assert_eq(sched_next_deadline(&s), T0 + 40 * MS, "B alone, A asleep");
    sched_add(&s, &c, T0 + MS);
    cr_assert_eq(sched_next_deadline(&s), T0 + SLICE, "B's slice ends before A wakes");
    sched_relinquish(&s, T0 + 35 * MS); /* C from 35 ms; its slice would end at 45 ms */
    cr_assert_eq(sched_next_deadline(&s), T0 + 40 * MS, "A wakes before C's slice ends");
    sched_sleep_until(&s, T0 + 36 * MS, T0 + 35 * MS); /* C sleeps; B runs */
    cr_assert_eq(sched_next_deadline(&s), T0 + 36 * MS, "the earliest of two sleepers");
    sched_sleep_until(&s, T0 + 38 * MS, T0 + 35 * MS); /* B sleeps; idle */
    cr_assert_eq(sched_current(&s), &idle);
    cr_assert_eq(sched_next_deadline(&s), T0 + 36 * MS, "idle with sleepers");
    cr_assert_not(sched_tick(&s, T0 + 36 * MS - 1));
    cr_assert(sched_tick(&s, T0 + 36 * MS));
    cr_assert_eq(sched_next_deadline(&s), 0, "C is ready while idle runs");
    sched_relinquish(&s, T0 + 36 * MS);
    cr_assert_eq(sched_next_deadline(&s), T0 + 38 * MS);
    cr_assert_eq(sched_add(&s, &d, T0 + 37 * MS), SCHED_OK);
    cr_assert_eq(sched_next_deadline(&s), T0 + 38 * MS, "B wakes before C's slice ends");
    sched_timer(&s, T0 + 40 * MS);
    cr_assert_eq(s.sleepers.len, 0);
    cr_assert_eq(sched_next_deadline(&s), T0 + 46 * MS, "only C's slice end is left");
}

/* ---- Exit ------------------------------------------------------------------------------ */

Test(sched, an_exited_task_is_never_picked_again)
{
    struct sched s;
    struct sched_waitq wq = {0};
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"}, b = {.name = "B"};
    sched_init(&s, NULL, &idle, T0);
    sched_add(&s, &a, T0);
    sched_add(&s, &b, T0);
    sched_relinquish(&s, T0);
    cr_assert_eq(sched_exit(&s, T0 + MS), &b);
    cr_assert_eq(a.state, SCHED_DEAD);
    cr_assert_eq(sched_wake(&s, &a, T0 + MS), SCHED_ESTATE);
    cr_assert_eq(sched_wake_all(&s, &wq, T0 + MS), 0);
    for (uint64_t t = T0 + 2 * MS; t < T0 + 100 * MS; t += MS) {
        sched_tick(&s, t);
        cr_assert_eq(sched_relinquish(&s, t), &b, "a dead task came back");
    }
    cr_assert_eq(sched_exit(&s, T0 + 100 * MS), &idle);
    cr_assert_eq(sched_relinquish(&s, T0 + 101 * MS), &idle);
    cr_assert_eq(sched_next_deadline(&s), UINT64_MAX);
    cr_assert_eq(a.state, SCHED_DEAD);
    cr_assert_eq(b.state, SCHED_DEAD);
}

Test(sched, the_storage_of_a_dead_task_can_be_added_again)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A", .id = 7};
    sched_init(&s, NULL, &idle, T0);
    sched_add(&s, &a, T0);
    sched_relinquish(&s, T0);
    sched_exit(&s, T0 + 5 * MS);
    cr_assert_eq(a.runtime_ns, 5 * MS);
    cr_assert_eq(sched_add(&s, &a, T0 + 6 * MS), SCHED_OK);
    cr_assert_eq(a.state, SCHED_READY);
    cr_assert_eq(a.runtime_ns, 0, "a new life starts its accounting afresh");
    cr_assert_eq(a.id, 7, "the caller's fields are the caller's");
    cr_assert_str_eq(a.name, "A");
    cr_assert_eq(sched_relinquish(&s, T0 + 6 * MS), &a);
}

/* ---- Accounting ------------------------------------------------------------------------ */

Test(sched, runtime_adds_up_to_the_elapsed_time)
{
    struct sim m;
    sim_init(&m, SLICE);
    m.stamp = true;
    const struct op a[] = {RUN(7), YIELD, RUN(13), SLEEP(4), RUN(3), EXIT};
    const struct op b[] = {RUN(25), EXIT};
    struct actor *pa = spawn(&m, "A", a);
    struct actor *pb = spawn(&m, "B", b);
    sim_run(&m);
    /* A is cut at 27 ms with 3 ms to go, sleeps at 40 and is back when B leaves at 45. */
    cr_assert_str_eq(m.log, "idle@0 A1@0 B1@7 A2@17 B2@27 A3@37 B3@40 A4@45 idle@48");
    cr_assert_eq(m.now - T0, 48 * MS);
    cr_assert_eq(pa->t.runtime_ns, 23 * MS);
    cr_assert_eq(pb->t.runtime_ns, 25 * MS);
    cr_assert_eq(pa->t.runtime_ns + pb->t.runtime_ns + m.idle.runtime_ns, m.now - T0);
    cr_assert_eq(m.idle.runtime_ns, 0, "idle never ran in between");
    cr_assert_eq(pa->t.switches, 4);
    cr_assert_eq(pb->t.switches, 3);
    cr_assert_eq(m.idle.switches, 1, "switched back to idle only at the end");
    cr_assert_eq(m.s.stats.switches, 8);
}

Test(sched, idle_is_charged_for_the_time_nothing_ran)
{
    struct sim m;
    sim_init(&m, SLICE);
    m.stamp = true;
    const struct op a[] = {RUN(2), SLEEP(10), RUN(3), EXIT};
    struct actor *pa = spawn(&m, "A", a);
    sim_run(&m);
    cr_assert_str_eq(m.log, "idle@0 A1@0 idle@2 A2@12 idle@15");
    cr_assert_eq(pa->t.runtime_ns, 5 * MS);
    cr_assert_eq(m.idle.runtime_ns, 10 * MS);
}

Test(sched, a_tick_brings_the_current_runtime_up_to_date)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"};
    sched_init(&s, NULL, &idle, T0);
    sched_add(&s, &a, T0 + MS);
    sched_relinquish(&s, T0 + MS);
    cr_assert_eq(idle.runtime_ns, MS);
    sched_tick(&s, T0 + 4 * MS);
    cr_assert_eq(a.runtime_ns, 3 * MS, "a running task's time shows before it switches");
    sched_tick(&s, T0 + 9 * MS);
    cr_assert_eq(a.runtime_ns, 8 * MS);
    sched_exit(&s, T0 + 10 * MS);
    cr_assert_eq(a.runtime_ns, 9 * MS, "nothing counted twice");
}

Test(sched, a_clock_that_steps_back_is_charged_as_no_time)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"}, b = {.name = "B"};
    sched_init(&s, NULL, &idle, T0);
    sched_add(&s, &a, T0);
    sched_add(&s, &b, T0);
    sched_relinquish(&s, T0);
    sched_relinquish(&s, T0 + 4 * MS); /* A: 4 ms */
    sched_relinquish(&s, T0 + 2 * MS); /* B: the clock went back; nothing */
    sched_relinquish(&s, T0 + 5 * MS); /* A: 1 ms, not 3 */
    cr_assert_eq(a.runtime_ns, 5 * MS);
    cr_assert_eq(b.runtime_ns, 0);
}

/* ---- Programmer errors ----------------------------------------------------------------- */

Test(sched, init_refuses_missing_pieces)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"};
    cr_assert_eq(sched_init(NULL, NULL, &idle, T0), SCHED_EINVAL);
    cr_assert_eq(sched_init(&s, NULL, NULL, T0), SCHED_EINVAL);
}

Test(sched, adding_a_task_twice_is_refused_and_leaves_the_queues_intact)
{
    struct sim m;
    struct sched_waitq wq = {0};
    sim_init(&m, SLICE);
    const struct op a[] = {YIELD, EXIT};
    const struct op b[] = {EXIT};
    struct actor *pa = spawn(&m, "A", a);
    cr_assert_eq(sched_add(&m.s, &pa->t, T0), SCHED_EBUSY, "READY");
    cr_assert_eq(sched_add(&m.s, NULL, T0), SCHED_EINVAL);
    cr_assert_eq(sched_add(&m.s, &m.idle, T0), SCHED_EINVAL);
    cr_assert_eq(m.s.runq.len, 1);
    sched_relinquish(&m.s, T0);
    cr_assert_eq(sched_add(&m.s, &pa->t, T0), SCHED_EBUSY, "RUNNING");
    sched_sleep_until(&m.s, T0 + MS, T0);
    cr_assert_eq(sched_add(&m.s, &pa->t, T0), SCHED_EBUSY, "SLEEPING");
    sched_timer(&m.s, T0 + MS);
    sched_relinquish(&m.s, T0 + MS);
    sched_block(&m.s, &wq, T0 + MS);
    cr_assert_eq(sched_add(&m.s, &pa->t, T0), SCHED_EBUSY, "BLOCKED");
    cr_assert_eq(m.s.runq.len, 0);
    cr_assert_eq(wq.q.len, 1);
    sched_wake_one(&m.s, &wq, T0 + MS);
    spawn(&m, "B", b);
    cr_assert_eq(m.s.stats.rejected, 6);
    sim_run(&m);
    cr_assert_str_eq(m.log, "idle A1 B1 A2 idle");
}

Test(sched, the_idle_task_cannot_block_sleep_or_exit)
{
    struct sched s;
    struct sched_waitq wq = {0};
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"};
    sched_init(&s, NULL, &idle, T0);
    cr_assert_eq(sched_block(&s, &wq, T0), &idle);
    cr_assert_eq(wq.q.len, 0);
    cr_assert_eq(sched_sleep_until(&s, T0 + MS, T0), &idle);
    cr_assert_eq(s.sleepers.len, 0);
    cr_assert_eq(sched_exit(&s, T0), &idle);
    cr_assert_eq(idle.state, SCHED_RUNNING);
    cr_assert_eq(s.stats.rejected, 3);
    /* Still a working scheduler. */
    sched_add(&s, &a, T0);
    cr_assert_eq(sched_relinquish(&s, T0), &a);
    cr_assert_eq(sched_exit(&s, T0), &idle);
}

Test(sched, blocking_on_no_queue_is_refused)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"}, b = {.name = "B"};
    sched_init(&s, NULL, &idle, T0);
    sched_add(&s, &a, T0);
    sched_add(&s, &b, T0);
    sched_relinquish(&s, T0);
    cr_assert_eq(sched_block(&s, NULL, T0), &a);
    cr_assert_eq(a.state, SCHED_RUNNING);
    cr_assert_eq(s.runq.len, 1);
    cr_assert_eq(s.stats.rejected, 1);
    cr_assert_eq(sched_wake_one(&s, NULL, T0), 0);
}

Test(sched, waking_a_task_that_is_not_blocked_or_asleep_is_refused)
{
    struct sched s;
    struct sched_task idle = {.name = "idle"}, a = {.name = "A"}, b = {.name = "B"},
                      fresh = {.name = "F"};
    sched_init(&s, NULL, &idle, T0);
    sched_add(&s, &a, T0);
    sched_add(&s, &b, T0);
    sched_relinquish(&s, T0);
    cr_assert_eq(sched_wake(&s, &a, T0), SCHED_ESTATE, "RUNNING");
    cr_assert_eq(sched_wake(&s, &b, T0), SCHED_ESTATE, "READY");
    cr_assert_eq(sched_wake(&s, &idle, T0), SCHED_ESTATE, "idle");
    cr_assert_eq(sched_wake(&s, &fresh, T0), SCHED_ESTATE, "never added");
    cr_assert_eq(sched_wake(&s, NULL, T0), SCHED_EINVAL);
    cr_assert_eq(s.stats.rejected, 5);
    cr_assert_eq(s.stats.woken, 0);
    /* Nothing moved: B is queued once, A is still on the CPU. */
    cr_assert_eq(s.runq.len, 1);
    cr_assert_eq(s.runq.head, &b);
    cr_assert_null(b.next);
    cr_assert_eq(sched_current(&s), &a);
    cr_assert_eq(sched_relinquish(&s, T0), &b);
    cr_assert_eq(sched_relinquish(&s, T0), &a);
}

Test(sched, state_names_are_printable)
{
    cr_assert_str_eq(sched_state_name(SCHED_READY), "READY");
    cr_assert_str_eq(sched_state_name(SCHED_BLOCKED), "BLOCKED");
}
