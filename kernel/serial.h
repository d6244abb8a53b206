/* serial.h — COM1 (16550 UART at 0x3f8): polled output (printk's log ring drains here)
 * and, once serial_rx_enable() is called, a receive interrupt on IRQ 4 (the console). */
#ifndef KERNEL_SERIAL_H
#define KERNEL_SERIAL_H

#include <stddef.h>

void serial_init(void);
/* The bytes as they are, a FIFO burst at a time: line ends are the caller's ("\r\n"). */
void serial_write(const char *s, size_t n);
/* Raise IRQ 4 whenever a received byte is waiting. */
void serial_rx_enable(void);
/* The next received byte, or -1 when there is none. */
int serial_read(void);

#endif
