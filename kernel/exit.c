#include "exit.h"

#include "arch.h"

void machine_exit(enum exit_code code)
{
    outb(0xf4, (uint8_t)code); /* isa-debug-exit, when present */
    for (;;) {
        cli();
        hlt();
    }
}
