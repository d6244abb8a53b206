/*
 * console.h — commands typed on the serial console (COM1).
 *
 * The UART's receive interrupt (IRQ 4, through the I/O APIC) only moves the bytes into a
 * small ring and wakes the console task; the task echoes them, assembles a line
 * (conline.h) and on Enter runs the command, in task context, answering through printk:
 *
 *   help    the commands
 *   mem     "mem: pages in use N, peak P, total T (4 KiB each); R of those in use are
 *           connection tables not touched yet"
 *   stats   mem, the console log, then every network layer's counters ("stats: ...")
 *
 * anything else: one line, 'console: unknown command "..." (try help)'. A line longer
 * than CONLINE_MAX is discarded with a message. Input that finds the ring full (a paste
 * faster than the task runs) is counted and dropped, and the line it belonged to is
 * discarded with a message, never run (coninput.h).
 */
#ifndef KERNEL_CONSOLE_H
#define KERNEL_CONSOLE_H

/* Start the task and the interrupt; logs one line saying so. */
void console_start(void);

#endif
