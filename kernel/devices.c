#include "devices.h"

#include "apic.h"
#include "arch.h"
#include "printk.h"
#include "virtio/mmio.h"

#define ACPI_BASE 0xfeb00000ull
#define SLOT_SIZE 0x200

static const char *device_name(uint32_t id)
{
    switch (id) {
    case 1: return "net";
    case 2: return "block";
    case 3: return "console";
    case 4: return "rng";
    default: return "other";
    }
}

/* Register access for lib/virtio's transport: ctx is the transport's base address. */
static uint32_t reg_read32(void *ctx, uint32_t off)
{
    return mmio_read32((uint64_t)(uintptr_t)ctx + off);
}

static void reg_write32(void *ctx, uint32_t off, uint32_t v)
{
    mmio_write32((uint64_t)(uintptr_t)ctx + off, v);
}

static uint8_t reg_read8(void *ctx, uint32_t off)
{
    return *(volatile uint8_t *)((uintptr_t)ctx + off);
}

const struct virtio_mmio_ops devices_mmio_ops = {
    .read32 = reg_read32, .write32 = reg_write32, .read8 = reg_read8};

static void probe(struct device_list *out, uint64_t base, unsigned gsi)
{
    struct virtio_mmio t;
    out->slots++;
    if (virtio_mmio_probe(&t, &devices_mmio_ops, (void *)(uintptr_t)base) != VIRTIO_OK ||
        out->n == DEVICES_MAX)
        return;
    uint32_t id = t.device_id;
    struct mmio_device *d = &out->dev[out->n++];
    *d = (struct mmio_device){.base = base, .gsi = gsi, .transport = t};
    klog("devices", "virtio-mmio@%lx gsi %u: %s (device %u, %s transport)", base, gsi,
         device_name(id), id, t.version == 1 ? "legacy" : "modern");
}

void devices_probe(const struct cmdline *cmd, struct device_list *out)
{
    out->n = out->slots = 0;
    if (cmd->n_mmio) {
        out->layout = "command line";
        for (unsigned i = 0; i < cmd->n_mmio; i++)
            probe(out, cmd->mmio[i].base, cmd->mmio[i].irq);
    } else if (ioapic_gsi_count() >= 48) {
        out->layout = "ACPI";
        for (unsigned i = 0; i < 24; i++)
            probe(out, ACPI_BASE + i * SLOT_SIZE, 24 + i);
    } else {
        out->layout = "acpi=off";
        for (unsigned i = 0; i < 8; i++)
            probe(out, ACPI_BASE + i * SLOT_SIZE, 5 + i);
    }
    unsigned nics = 0;
    for (unsigned i = 0; i < out->n; i++)
        nics += out->dev[i].transport.device_id == 1;
    klog("devices", "%u virtio-mmio transports (%s layout), %u devices%s", out->slots,
         out->layout, out->n, nics ? "" : ", no network device: nothing to serve on");
}
