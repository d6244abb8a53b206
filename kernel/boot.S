/*
 * boot.S — PVH entry (x86/HVM direct boot ABI) to 64-bit C.
 *
 * QEMU finds `_start32` through the XEN_ELFNOTE_PHYS32_ENTRY note and enters it in
 * 32-bit protected mode, paging off, with %ebx pointing at the hvm_start_info block
 * (command line, memory map). We record the TSC first (boot time is measured from here),
 * load page tables that identity-map the first 4 GiB with 2 MiB pages (RAM
 * below 4 GiB plus the APIC, I/O APIC and virtio-mmio windows; built by the assembler, so
 * no loop runs at boot), enter long mode and call kmain(start_info).
 * kernel/paging.c replaces these tables with ones that cover all RAM and mark data NX.
 */
#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80

    .section .note.pvh, "a"
    .balign 4
    .long 4                 /* name size: "Xen\0" */
    .long 4                 /* descriptor size */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long _start32

    .section .boot, "ax"
    .code32
    .globl _start32
_start32:
    cli
    rdtsc
    mov %eax, boot_tsc
    mov %edx, boot_tsc + 4
    mov %ebx, boot_start_info

    /* .bss is not cleared here: it lies in the last PT_LOAD segment, past its file size,
     * and an ELF loader fills that part with zeros (QEMU's PVH loader does). Clearing it
     * again cost 3.3 ms of a 57 ms boot under PVM, which emulates each of the 10k
     * iterations; kmain's selftest checks the loader kept its word. */
    cld

    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $(1 << 5), %eax                /* PAE */
    mov %eax, %cr4
    mov $0xc0000080, %ecx             /* EFER */
    rdmsr
    or $(1 << 8), %eax                /* LME */
    wrmsr
    mov %cr0, %eax
    or $((1 << 31) | (1 << 16)), %eax /* PG, WP */
    mov %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $start64

    .code64
start64:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    mov $boot_stack_top, %rsp
    xor %ebp, %ebp                    /* ends the backtrace */
    mov boot_start_info(%rip), %edi
    call kmain
3:  cli
    hlt
    jmp 3b

    .section .rodata
    .balign 8
    .globl boot_gdt
boot_gdt:
    .quad 0                           /* null */
    .quad 0x00af9a000000ffff          /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff          /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .section .data
    .balign 8
    .globl boot_tsc, boot_start_info
boot_tsc:
    .quad 0
boot_start_info:
    .long 0

    /* PML4[0] -> PDPT; PDPT[0..3] -> PD0..PD3; each PD: 512 x 2 MiB, present and
     * writable. Static data: the loader puts them in place. */
    .section .data
    .balign 4096
    .globl boot_pml4
boot_pml4:
    .quad boot_pdpt + (PTE_P | PTE_W)
    .fill 511, 8, 0
boot_pdpt:
    .quad boot_pd + (PTE_P | PTE_W)
    .quad boot_pd + 4096 + (PTE_P | PTE_W)
    .quad boot_pd + 2 * 4096 + (PTE_P | PTE_W)
    .quad boot_pd + 3 * 4096 + (PTE_P | PTE_W)
    .fill 508, 8, 0
boot_pd:
    .set frame, 0
    .rept 2048
    .quad (frame << 21) | (PTE_P | PTE_W | PTE_PS)
    .set frame, frame + 1
    .endr

    /* Not zeroed at entry: nothing reads the stack before writing it. */
    .section .stack, "aw", @nobits
    .balign 16
boot_stack:
    .skip 16384
    .globl boot_stack_top
boot_stack_top:
