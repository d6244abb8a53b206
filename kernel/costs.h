/*
 * costs.h — what this machine charges for the operations the data path makes: a
 * register of the NIC, of the local APIC, an I/O port, interrupts off and on, a timer
 * interrupt that ends a halt. Under TCG each is a function call; under a hypervisor each
 * may be a trap, and the difference is where the time of a request goes. Boot with the
 * command-line word `costs` to have the table logged before the network starts.
 */
#ifndef KERNEL_COSTS_H
#define KERNEL_COSTS_H

#include "devices.h"

void costs_report(const struct device_list *devices);

#endif
