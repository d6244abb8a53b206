/* serial.h — COM1 (16550 UART at 0x3f8), polled output: the boot log and panic reports. */
#ifndef KERNEL_SERIAL_H
#define KERNEL_SERIAL_H

#include <stddef.h>

void serial_init(void);
void serial_write(const char *s, size_t n);

#endif
