#include "panic.h"

#include <stdarg.h>

#include "arch.h"
#include "exit.h"
#include "printk.h"
#include "trap.h"

extern char __kernel_start[], __text_end[];

static const char *const exception_names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range", "invalid opcode",
    "device not available", "double fault", "coprocessor overrun", "invalid TSS",
    "segment not present", "stack fault", "general protection", "page fault", "reserved",
    "x87 floating point", "alignment check", "machine check", "SIMD floating point",
    "virtualization", "control protection"};

static int panicking;

/* Walk saved frame pointers (the kernel is built with -fno-omit-frame-pointer); stop at
 * the first frame outside the image or out of order, so a smashed stack ends the walk. */
void backtrace_from(uint64_t rbp)
{
    kprintf("backtrace:\n");
    for (int depth = 0; rbp && depth < 32; depth++) {
        if (rbp & 7 || rbp < (uint64_t)__kernel_start || rbp > 0x100000000ull)
            break;
        uint64_t *frame = (uint64_t *)rbp;
        uint64_t ret = frame[1];
        if (ret < (uint64_t)__kernel_start || ret >= (uint64_t)__text_end)
            break;
        kprintf("  #%d %p\n", depth, (void *)ret);
        if (frame[0] <= rbp)
            break;
        rbp = frame[0];
    }
}

__attribute__((noreturn)) static void halt_with_panic(void)
{
    kprintf("panic: machine stopped\n");
    machine_exit(EXIT_PANIC);
}

void panic(const char *fmt, ...)
{
    cli();
    if (panicking++)
        machine_exit(EXIT_PANIC); /* a panic while panicking: just stop */
    printk_panic(); /* every earlier line first, then the report, synchronously */
    uint64_t rbx, r12, r13, r14, r15, rsp;
    __asm__ volatile("mov %%rbx, %0; mov %%r12, %1; mov %%r13, %2; mov %%r14, %3; mov %%r15, %4;"
                     "mov %%rsp, %5"
                     : "=m"(rbx), "=m"(r12), "=m"(r13), "=m"(r14), "=m"(r15), "=m"(rsp));
    va_list ap;
    va_start(ap, fmt);
    kprintf("\npanic: ");
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf("\n");
    /* Not a trap: the caller-saved registers are gone; the callee-saved ones and where we
     * were called from are what is left to report. */
    kprintf("  rip %p (caller)  rsp %p  rbp %p\n", __builtin_return_address(0), (void *)rsp,
            __builtin_frame_address(0));
    kprintf("  rbx %016lx r12 %016lx r13 %016lx r14 %016lx r15 %016lx\n", rbx, r12, r13, r14,
            r15);
    backtrace_from((uint64_t)__builtin_frame_address(0));
    halt_with_panic();
}

void panic_trap(const struct trap_frame *f)
{
    cli();
    if (panicking++)
        machine_exit(EXIT_PANIC);
    printk_panic();
    const char *name = f->vector < 32 && exception_names[f->vector] ? exception_names[f->vector]
                                                                     : "exception";
    kprintf("\npanic: CPU exception %u (%s), error code %lx\n", (unsigned)f->vector, name,
            f->error);
    kprintf("  rip %p  cs %lx  rflags %lx\n", (void *)f->rip, f->cs, f->rflags);
    if (f->vector == 14)
        kprintf("  cr2 %p (the faulting address)\n", (void *)read_cr2());
    kprintf("  rax %016lx rbx %016lx rcx %016lx rdx %016lx\n", f->rax, f->rbx, f->rcx, f->rdx);
    kprintf("  rsi %016lx rdi %016lx rbp %016lx rsp %016lx\n", f->rsi, f->rdi, f->rbp, f->rsp);
    kprintf("  r8  %016lx r9  %016lx r10 %016lx r11 %016lx\n", f->r8, f->r9, f->r10, f->r11);
    kprintf("  r12 %016lx r13 %016lx r14 %016lx r15 %016lx\n", f->r12, f->r13, f->r14, f->r15);
    kprintf("  #- %p (faulting instruction)\n", (void *)f->rip);
    backtrace_from(f->rbp);
    halt_with_panic();
}
