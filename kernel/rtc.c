#include "rtc.h"

#include "arch.h"

#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define A_UIP 0x80 /* update in progress */
#define B_UIE 0x10 /* update-ended interrupt enable */
#define B_24H 0x02
#define B_BINARY 0x04
#define C_UF 0x10 /* update ended */

static uint8_t cmos(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

static void cmos_write(uint8_t reg, uint8_t v)
{
    outb(0x70, reg);
    outb(0x71, v);
}

static unsigned bcd(uint8_t v, bool binary)
{
    return binary ? v : (unsigned)(v >> 4) * 10 + (v & 15);
}

/* Days from 1970-01-01 to y-m-d (Howard Hinnant's days_from_civil). */
static uint64_t days_from_civil(unsigned y, unsigned m, unsigned d)
{
    y -= m <= 2;
    unsigned era = y / 400, yoe = y - era * 400;
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (uint64_t)era * 146097 + doe - 719468;
}

bool rtc_present(void)
{
    return !(cmos(REG_A) == 0xff && cmos(REG_B) == 0xff); /* nothing answers on the ports */
}

/* MC146818: wait out an update in progress, read twice until two reads agree. */
uint64_t rtc_read_seconds(void)
{
    if (!rtc_present())
        return 0;
    uint8_t a[6], b[6];
    for (int tries = 0; tries < 10; tries++) {
        for (int i = 0; i < 100000 && (cmos(REG_A) & A_UIP); i++)
            ;
        const uint8_t regs[6] = {0x00, 0x02, 0x04, 0x07, 0x08, 0x09};
        for (int i = 0; i < 6; i++)
            a[i] = cmos(regs[i]);
        for (int i = 0; i < 6; i++)
            b[i] = cmos(regs[i]);
        bool same = true;
        for (int i = 0; i < 6; i++)
            same = same && a[i] == b[i];
        if (!same)
            continue;
        uint8_t status_b = cmos(REG_B);
        bool binary = status_b & B_BINARY, h24 = status_b & B_24H;
        unsigned hour = bcd(a[2] & 0x7f, binary);
        if (!h24 && (a[2] & 0x80))
            hour = (hour % 12) + 12;
        unsigned sec = bcd(a[0], binary), min = bcd(a[1], binary), day = bcd(a[3], binary);
        unsigned mon = bcd(a[4], binary), year = 2000 + bcd(a[5], binary);
        if (sec > 59 || min > 59 || hour > 23 || !day || day > 31 || !mon || mon > 12)
            return 0;
        return days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
    }
    return 0;
}

void rtc_update_irq(bool on)
{
    (void)cmos(REG_C); /* a stale flag would hold the line up and hide the next edge */
    uint8_t b = cmos(REG_B);
    cmos_write(REG_B, on ? b | B_UIE : b & ~B_UIE);
}

bool rtc_ack(void)
{
    return cmos(REG_C) & C_UF;
}
