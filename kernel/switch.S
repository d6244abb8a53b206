/*
 * switch.S — the context switch. Only the callee-saved registers need saving: the switch
 * is an ordinary call, so the compiler has already saved the rest (and an interrupted
 * task's registers are in its trap frame, on its own stack).
 *
 *   void context_switch(uint64_t *save_rsp, uint64_t next_rsp)
 */
    .text
    .code64
    .globl context_switch
context_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    mov %rsp, (%rdi)
    mov %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

/* A new task's first "return" lands here with its function in %r13, argument in %r12. */
    .globl task_entry
task_entry:
    mov %r12, %rdi
    mov %r13, %rsi
    xor %ebp, %ebp          /* ends backtraces at the task's first frame */
    call task_start         /* never returns */
    ud2
