/*
 * task.h — kernel tasks on top of lib/sched: stacks, the context switch, preemption.
 *
 * The boot context becomes the idle task. task_spawn() gives a task its own stack with a
 * guard page below it. Every scheduler verb runs with interrupts off; the LAPIC alarm is
 * armed for sched_next_deadline(), and when sched_tick() asks for preemption the switch
 * happens on the way out of the interrupt, after the EOI, so the next task starts with
 * the local APIC free to deliver again.
 */
#ifndef KERNEL_TASK_H
#define KERNEL_TASK_H

#include <stdint.h>

#include "sched/sched.h"

#define TASK_STACK_PAGES 4

struct task {
    struct sched_task t; /* first: a sched_task * is a struct task * */
    uint64_t rsp;        /* saved stack pointer while switched out */
    uint64_t stack_top;
};

void task_init(void);
/* Start fn(arg) as a new task, READY behind the others. Returns 0 or a negative error. */
int task_spawn(struct task *task, const char *name, void (*fn)(void *), void *arg);
void task_yield(void);
void task_sleep_until(uint64_t deadline_ns);
/* Block on `wq`; the caller has interrupts off and has checked its condition. */
void task_block(struct sched_waitq *wq);
/* From anywhere, interrupt handlers included: end `task`'s sleep or block early. */
void task_wake(struct task *task);
/* From anywhere, interrupt handlers included: wake the first waiter. */
void task_wake_one(struct sched_waitq *wq);
__attribute__((noreturn)) void task_exit(void);
struct sched *task_sched(void);
/* The idle task's loop body: run what is READY; else send a burst of queued console
 * output; else arm the alarm for the next deadline and halt. */
void task_idle_once(void);

#endif
