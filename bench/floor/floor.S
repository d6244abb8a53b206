/*
 * floor.S — the cheapest guest there is: the bench's floor.
 *
 * QEMU's -kernel finds `_start` through the PVH note (XEN_ELFNOTE_PHYS32_ENTRY) and
 * enters it in 32-bit protected mode, paging off, flat segments (the x86/HVM direct boot
 * ABI, the same entry Quartz's kernel/boot.S uses). We stay there: write one line to
 * COM1 and leave through isa-debug-exit. Writing 0 to port 0xf4 makes QEMU exit with
 * status (0 << 1) | 1 = 1. No stack, no memory, no interrupts: what is left of a boot is
 * QEMU's own start-up and tear-down, which no guest can beat.
 *
 *   qemu-system-x86_64 -M microvm -accel tcg -m 16M -kernel build/bench/floor.elf \
 *       -nodefaults -display none -serial stdio \
 *       -device isa-debug-exit,iobase=0xf4,iosize=0x04        # prints the line, exits 1
 */
#define COM1 0x3f8
#define LSR 5              /* line status register */
#define LSR_THRE 0x20      /* transmit holding register empty */
#define DEBUG_EXIT 0xf4

    .section .note.pvh, "a"
    .balign 4
    .long 4                /* name size: "Xen\0" */
    .long 4                /* descriptor size */
    .long 18               /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long _start

    .section .text, "ax"
    .code32
    .globl _start
_start:
    cli
    cld
    mov $msg, %esi
    mov $(msg_end - msg), %ecx
1:  mov $(COM1 + LSR), %dx
2:  inb %dx, %al               /* QEMU's UART is always ready; a real one may not be */
    test $LSR_THRE, %al
    jz 2b
    mov $COM1, %dx
    lodsb
    outb %al, %dx
    loop 1b

    mov $DEBUG_EXIT, %dx
    xor %eax, %eax
    outl %eax, %dx
3:  hlt                        /* without the debug-exit device: stop here */
    jmp 3b

    .section .rodata
msg:
    .ascii "floor: hello from the smallest guest\r\n"
msg_end:
