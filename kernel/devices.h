/*
 * devices.h — finding virtio-mmio transports on QEMU's microvm.
 *
 * With ACPI (microvm's default) QEMU builds 24 transports at 0xfeb00000 + i * 0x200 whose
 * interrupts are GSIs 24 + i on the second I/O APIC, and says nothing on the command line.
 * With acpi=off it builds 8, on IRQs 5 + i, and appends virtio_mmio.device=SIZE@BASE:IRQ
 * for each to the command line. We use the command line's list when there is one, else
 * the ACPI layout when the second I/O APIC exists, else the acpi=off layout. A slot is a
 * device when it has the "virt" magic and a non-zero device id.
 */
#ifndef KERNEL_DEVICES_H
#define KERNEL_DEVICES_H

#include <stdint.h>

#include "cmdline.h"
#include "virtio/mmio.h"

#define DEVICES_MAX 32

struct mmio_device {
    uint64_t base;
    unsigned gsi;
    struct virtio_mmio transport; /* as probed: version, device and vendor id */
};

struct device_list {
    struct mmio_device dev[DEVICES_MAX];
    unsigned n;
    unsigned slots; /* transports probed */
    const char *layout;
};

void devices_probe(const struct cmdline *cmd, struct device_list *out);

/* MMIO register access for lib/virtio's transport; ctx is a transport's base address. */
extern const struct virtio_mmio_ops devices_mmio_ops;

#endif
