#include "sched/sched.h"

/* ---- Intrusive queues ------------------------------------------------------------------ */

static void q_insert_before(struct sched_queue *q, struct sched_task *pos, struct sched_task *t)
{
    t->next = pos;
    t->prev = pos ? pos->prev : q->tail;
    if (t->prev)
        t->prev->next = t;
    else
        q->head = t;
    if (pos)
        pos->prev = t;
    else
        q->tail = t;
    q->len++;
}

static void q_push_tail(struct sched_queue *q, struct sched_task *t)
{
    q_insert_before(q, NULL, t);
}

static void q_remove(struct sched_queue *q, struct sched_task *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        q->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        q->tail = t->prev;
    t->prev = t->next = NULL;
    q->len--;
}

static struct sched_task *q_pop_head(struct sched_queue *q)
{
    struct sched_task *t = q->head;
    if (t)
        q_remove(q, t);
    return t;
}

/* ---- Core ------------------------------------------------------------------------------ */

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Charge the CPU time since the last charge to whoever held it. A clock that steps back
 * charges nothing and keeps the high-water mark, so time is never counted twice. */
static void charge(struct sched *s, uint64_t now)
{
    if (now > s->charged_at) {
        s->current->runtime_ns += now - s->charged_at;
        s->charged_at = now;
    }
}

static void make_ready(struct sched *s, struct sched_task *t)
{
    t->state = SCHED_READY;
    t->waitq = NULL;
    q_push_tail(&s->runq, t);
    if (s->current == s->idle)
        s->need_resched = true;
}

/* The current task has been charged and given its new state (idle needs none: it is never
 * queued). Hand the CPU to the head of the run queue, or to idle when it is empty. */
static struct sched_task *pick(struct sched *s, uint64_t now)
{
    struct sched_task *next = q_pop_head(&s->runq);
    if (!next)
        next = s->idle;
    if (next != s->current) {
        next->switches++;
        s->stats.switches++;
    }
    if (s->current == s->idle && next != s->idle)
        s->idle->state = SCHED_READY;
    s->current = next;
    next->state = SCHED_RUNNING;
    s->slice_end = add_sat(now, s->cfg.slice_ns);
    s->need_resched = false;
    return next;
}

static void reset_task(struct sched_task *t)
{
    t->wake_at = 0;
    t->waitq = NULL;
    t->prev = t->next = NULL;
    t->runtime_ns = 0;
    t->switches = 0;
}

int sched_init(struct sched *s, const struct sched_cfg *cfg, struct sched_task *idle, uint64_t now)
{
    if (!s || !idle)
        return SCHED_EINVAL;
    *s = (struct sched){0};
    if (cfg)
        s->cfg = *cfg;
    if (!s->cfg.slice_ns)
        s->cfg.slice_ns = SCHED_DEFAULT_SLICE_NS;
    reset_task(idle);
    idle->state = SCHED_RUNNING;
    s->idle = idle;
    s->current = idle;
    s->charged_at = now;
    s->slice_end = add_sat(now, s->cfg.slice_ns);
    return SCHED_OK;
}

int sched_add(struct sched *s, struct sched_task *t, uint64_t now)
{
    if (!t || t == s->idle) {
        s->stats.rejected++;
        return SCHED_EINVAL;
    }
    if (t->state != SCHED_UNUSED && t->state != SCHED_DEAD) {
        s->stats.rejected++;
        return SCHED_EBUSY;
    }
    reset_task(t);
    make_ready(s, t);
    return SCHED_OK;
}

struct sched_task *sched_relinquish(struct sched *s, uint64_t now)
{
    charge(s, now);
    if (s->current != s->idle)
        make_ready(s, s->current);
    return pick(s, now);
}

struct sched_task *sched_sleep_until(struct sched *s, uint64_t until, uint64_t now)
{
    struct sched_task *t = s->current;
    if (t == s->idle) {
        s->stats.rejected++;
        return t;
    }
    if (until <= now)
        return sched_relinquish(s, now);
    charge(s, now);
    t->state = SCHED_SLEEPING;
    t->wake_at = until;
    /* After every sleeper due no later than us: ties wake in the order they slept. */
    struct sched_task *pos = s->sleepers.head;
    while (pos && pos->wake_at <= until)
        pos = pos->next;
    q_insert_before(&s->sleepers, pos, t);
    return pick(s, now);
}

struct sched_task *sched_block(struct sched *s, struct sched_waitq *wq, uint64_t now)
{
    struct sched_task *t = s->current;
    if (t == s->idle || !wq) {
        s->stats.rejected++;
        return t;
    }
    charge(s, now);
    t->state = SCHED_BLOCKED;
    t->waitq = wq;
    q_push_tail(&wq->q, t);
    return pick(s, now);
}

size_t sched_wake_one(struct sched *s, struct sched_waitq *wq, uint64_t now)
{
    if (!wq)
        return 0;
    struct sched_task *t = q_pop_head(&wq->q);
    if (!t)
        return 0;
    make_ready(s, t);
    s->stats.woken++;
    return 1;
}

size_t sched_wake_all(struct sched *s, struct sched_waitq *wq, uint64_t now)
{
    size_t n = 0;
    while (sched_wake_one(s, wq, now))
        n++;
    return n;
}

int sched_wake(struct sched *s, struct sched_task *t, uint64_t now)
{
    if (!t) {
        s->stats.rejected++;
        return SCHED_EINVAL;
    }
    if (t->state == SCHED_BLOCKED && t->waitq)
        q_remove(&t->waitq->q, t);
    else if (t->state == SCHED_SLEEPING)
        q_remove(&s->sleepers, t);
    else {
        s->stats.rejected++;
        return SCHED_ESTATE;
    }
    make_ready(s, t);
    s->stats.woken++;
    return SCHED_OK;
}

struct sched_task *sched_exit(struct sched *s, uint64_t now)
{
    struct sched_task *t = s->current;
    if (t == s->idle) {
        s->stats.rejected++;
        return t;
    }
    charge(s, now);
    t->state = SCHED_DEAD;
    return pick(s, now);
}

size_t sched_timer(struct sched *s, uint64_t now)
{
    size_t n = 0;
    while (s->sleepers.head && s->sleepers.head->wake_at <= now) {
        make_ready(s, q_pop_head(&s->sleepers));
        n++;
    }
    s->stats.woken += n;
    return n;
}

bool sched_tick(struct sched *s, uint64_t now)
{
    sched_timer(s, now);
    charge(s, now);
    if (!s->runq.len)
        return false;
    return s->current == s->idle || now >= s->slice_end;
}

uint64_t sched_next_deadline(const struct sched *s)
{
    uint64_t dl = s->sleepers.head ? s->sleepers.head->wake_at : UINT64_MAX;
    if (s->runq.len) {
        uint64_t preempt = s->current == s->idle ? 0 : s->slice_end;
        if (preempt < dl)
            dl = preempt;
    }
    return dl;
}

struct sched_task *sched_current(const struct sched *s)
{
    return s->current;
}

const char *sched_state_name(enum sched_state state)
{
    switch (state) {
    case SCHED_UNUSED: return "UNUSED";
    case SCHED_READY: return "READY";
    case SCHED_RUNNING: return "RUNNING";
    case SCHED_SLEEPING: return "SLEEPING";
    case SCHED_BLOCKED: return "BLOCKED";
    case SCHED_DEAD: return "DEAD";
    }
    return "?";
}
