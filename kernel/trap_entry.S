/*
 * trap.S — one entry stub per vector. The CPU pushes an error code for some exceptions
 * only; the others push a zero so every frame has the same shape (struct trap_frame in
 * trap.h), then the vector number, then all general registers, and trap_dispatch()
 * gets a pointer to the lot.
 */
    .text
    .code64

.macro stub vec
    .balign 16
trap_stub_\vec:
    .if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    .else
    pushq $0
    .endif
    pushq $\vec
    jmp trap_common
.endm

    /* Page-aligned, so the 4 KiB of stubs share the upper 48 bits of their addresses
     * (trap_init steps one gate through the table). */
    .balign 4096
    .globl trap_stubs
trap_stubs:
    .altmacro
    .set i, 0
    .rept 256
    stub %i
    .set i, i + 1
    .endr

trap_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    mov %rsp, %rdi
    cld
    call trap_dispatch
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    add $16, %rsp            /* vector and error code */
    iretq
