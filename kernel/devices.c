#include "devices.h"

#include "apic.h"
#include "arch.h"
#include "printk.h"

#define MMIO_MAGIC 0x000
#define MMIO_VERSION 0x004
#define MMIO_DEVICE_ID 0x008
#define MMIO_VENDOR 0x00c
#define VIRT_MAGIC 0x74726976u /* "virt" */
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

static void probe(struct device_list *out, uint64_t base, unsigned gsi)
{
    out->slots++;
    if (mmio_read32(base + MMIO_MAGIC) != VIRT_MAGIC)
        return;
    uint32_t id = mmio_read32(base + MMIO_DEVICE_ID);
    if (!id || out->n == DEVICES_MAX)
        return;
    struct mmio_device *d = &out->dev[out->n++];
    *d = (struct mmio_device){base, gsi, mmio_read32(base + MMIO_VERSION), id,
                              mmio_read32(base + MMIO_VENDOR)};
    klog("devices", "virtio-mmio@%lx gsi %u: %s (device %u, %s transport)", base, gsi,
         device_name(id), id, d->version == 1 ? "legacy" : "modern");
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
        nics += out->dev[i].device_id == 1;
    klog("devices", "%u virtio-mmio transports (%s layout), %u devices%s", out->slots,
         out->layout, out->n, nics ? "" : ", no network device: nothing to serve on");
}
