/*
 * sched.h — the scheduler core: tasks, a round-robin run queue, sleepers and wait queues.
 *
 * The core decides, the kernel switches. Every verb that can take the CPU away from the
 * current task returns the task that must run next (possibly the same one); the kernel
 * then saves the current context into `current->arch` and resumes `next->arch` (the asm
 * lives in kernel/). Nothing here touches a stack, a register or a clock.
 *
 * Ownership: task, wait queue and sched storage belong to the caller; the links inside
 * them are intrusive, so nothing is ever allocated. The caller fills id, name and arch of
 * a task (zeroed storage is a task nobody holds) and hands it over with sched_add(); from
 * then until it is DEAD the scheduler owns its state and links. The storage of a DEAD
 * task may be reused (sched_add again) once the kernel has switched away from it.
 *
 * Policy: one FIFO run queue, round robin with a time slice of cfg.slice_ns. Tasks made
 * READY (added, yielded, preempted, woken) go to the tail. The idle task, given at init,
 * runs only when the run queue is empty and is never queued, never sleeps or blocks.
 * Sleepers are kept in wake_at order (ties in the order they went to sleep) and become
 * READY when sched_tick()/sched_timer() sees `now >= wake_at`. Wait queues are FIFO.
 * There are no priorities: a woken task waits for the current one's slice to end, except
 * that anything READY preempts idle at once.
 *
 * Preemption: the timer interrupt calls sched_tick(); when it returns true the kernel
 * calls sched_relinquish() on the way out of the interrupt and switches.
 * sched_next_deadline() is the earliest instant at which sched_tick() would have work, so
 * the kernel can program a one-shot timer and halt until then (tickless); a periodic tick
 * works as well.
 *
 * Concurrency: the core is not reentrant. The kernel calls verbs with interrupts
 * disabled; an interrupt handler may call sched_wake_*() and sched_timer() (they never
 * switch; they set need_resched when idle should give way). A task that tests a condition
 * and then blocks keeps interrupts off across both, so no wake-up slips in between.
 *
 * Programmer errors never corrupt the queues: verbs returning int give SCHED_OK or a
 * negative enum sched_err and change nothing on error; verbs returning the next task
 * refuse by returning the current task unchanged (no switch). Each refusal is counted in
 * stats.rejected. Time is `now` in nanoseconds of a monotonic clock the caller owns; a
 * clock that goes backwards is charged as zero elapsed time.
 */
#ifndef SCHED_SCHED_H
#define SCHED_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCHED_NS_PER_MS 1000000ull
#define SCHED_DEFAULT_SLICE_NS (10 * SCHED_NS_PER_MS)

enum sched_err {
    SCHED_OK = 0,
    SCHED_EINVAL = -1, /* NULL, or the idle task where a real task is needed */
    SCHED_EBUSY = -2,  /* the task is already held by the scheduler (added twice) */
    SCHED_ESTATE = -3, /* the task is not in a state the verb applies to */
};

enum sched_state {
    SCHED_UNUSED = 0, /* zeroed storage: not known to any scheduler */
    SCHED_READY,      /* on the run queue (the idle task: waiting, never queued) */
    SCHED_RUNNING,    /* sched.current */
    SCHED_SLEEPING,   /* on the sleeper list until wake_at */
    SCHED_BLOCKED,    /* on `waitq` until woken */
    SCHED_DEAD,       /* exited; never picked again */
};

struct sched_task;

/* An intrusive FIFO of tasks, linked through sched_task.prev/next. Zeroed is empty. */
struct sched_queue {
    struct sched_task *head;
    struct sched_task *tail;
    size_t len;
};

/* Tasks blocked on one condition, in the order they blocked. Zeroed is empty. */
struct sched_waitq {
    struct sched_queue q;
};

struct sched_task {
    /* The caller's: set before sched_add, never written by the scheduler. */
    uint32_t id;
    const char *name;
    void *arch; /* the kernel's saved context (its stack pointer); opaque here */

    /* The scheduler's, from sched_add until DEAD. */
    enum sched_state state;
    uint64_t wake_at;          /* SLEEPING: when it becomes READY */
    struct sched_waitq *waitq; /* BLOCKED: the queue it waits on */
    struct sched_task *prev;   /* links in the run queue, the sleepers or a waitq */
    struct sched_task *next;

    /* Accounting, reset by sched_add. */
    uint64_t runtime_ns; /* CPU time charged while it was current */
    uint64_t switches;   /* times it was switched to */
};

struct sched_cfg {
    uint64_t slice_ns; /* how long a task runs before others get a turn; 0: 10 ms */
};

struct sched_stats {
    uint64_t switches; /* picks of a task other than the one running */
    uint64_t woken;    /* sleepers and blocked tasks made READY */
    uint64_t rejected; /* programmer errors refused (see the contract above) */
};

struct sched {
    struct sched_cfg cfg;
    struct sched_task *idle;
    struct sched_task *current;
    struct sched_queue runq;     /* READY tasks, FIFO */
    struct sched_queue sleepers; /* SLEEPING tasks, by wake_at then FIFO */
    uint64_t slice_end;          /* when the current task's slice runs out */
    uint64_t charged_at;         /* runtime has been charged up to here */
    bool need_resched;           /* idle runs while a task is READY: yield soon */
    struct sched_stats stats;
};

/* Start with `idle` as the current task at `now`. cfg NULL: defaults. SCHED_EINVAL when
 * s or idle is NULL. The idle task's accounting is reset like sched_add's. */
int sched_init(struct sched *s, const struct sched_cfg *cfg, struct sched_task *idle, uint64_t now);
/* Hand over a new task, READY at the tail. The task must be UNUSED (zeroed) or DEAD and
 * not current: SCHED_EBUSY otherwise, SCHED_EINVAL for NULL or the idle task. */
int sched_add(struct sched *s, struct sched_task *task, uint64_t now);
/* The current task gives up the CPU: to the tail of the run queue, unless it is idle.
 * Also how the kernel preempts after sched_tick() said so. Returns the next task.
 * (Not "sched_yield": that is POSIX's, and a global of that name would replace libc's in
 * hosted builds, where the test runner calls it.) */
struct sched_task *sched_relinquish(struct sched *s, uint64_t now);
/* The current task sleeps until `until` (UINT64_MAX: until sched_wake). An `until` not
 * after `now` is a yield. Refused for idle. Returns the next task. */
struct sched_task *sched_sleep_until(struct sched *s, uint64_t until, uint64_t now);
/* The current task blocks at the tail of `wq`. Refused for idle or a NULL wq. Returns the
 * next task. */
struct sched_task *sched_block(struct sched *s, struct sched_waitq *wq, uint64_t now);
/* Make the head of `wq` READY; returns how many were woken (0 or 1). Never switches. */
size_t sched_wake_one(struct sched *s, struct sched_waitq *wq, uint64_t now);
/* Make every task on `wq` READY, in FIFO order; returns how many. Never switches. */
size_t sched_wake_all(struct sched *s, struct sched_waitq *wq, uint64_t now);
/* Make one BLOCKED or SLEEPING task READY early (off its waitq or the sleepers).
 * SCHED_ESTATE for any other state, SCHED_EINVAL for NULL. Never switches. */
int sched_wake(struct sched *s, struct sched_task *task, uint64_t now);
/* The current task is DEAD and never picked again. Refused for idle. Returns the next. */
struct sched_task *sched_exit(struct sched *s, uint64_t now);
/* The timer interrupt: moves due sleepers to the run queue and brings the current task's
 * runtime_ns up to `now`, then returns true when the kernel should call sched_relinquish():
 * idle is running and a task is READY, or the current task's slice is over and another
 * task is READY. A task alone is never preempted. */
bool sched_tick(struct sched *s, uint64_t now);
/* Moves due sleepers to the run queue only; returns how many. Never switches. */
size_t sched_timer(struct sched *s, uint64_t now);
/* Earliest instant sched_tick() has work: the first sleeper's wake_at, or the current
 * slice's end when another task is READY (0 when idle runs and a task is READY: now).
 * UINT64_MAX when nothing is pending: the timer can stay off. */
uint64_t sched_next_deadline(const struct sched *s);
/* The task the scheduler believes is on the CPU (idle included). */
struct sched_task *sched_current(const struct sched *s);
/* "READY", "RUNNING", ...: for the kernel's task dumps. */
const char *sched_state_name(enum sched_state state);

#endif
