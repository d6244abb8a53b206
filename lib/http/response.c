#include "response.h"

#include <string.h>

void head_init(struct head *h, char *buf, size_t cap)
{
    h->buf = buf;
    h->cap = cap;
    h->len = 0;
    h->overflow = false;
}

void head_mem(struct head *h, const char *s, size_t n)
{
    if (h->overflow || n > h->cap - h->len) {
        h->overflow = true;
        return;
    }
    memcpy(h->buf + h->len, s, n);
    h->len += n;
}

void head_str(struct head *h, const char *s)
{
    head_mem(h, s, strlen(s));
}

void head_u64(struct head *h, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof(digits) - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    head_mem(h, digits + sizeof(digits) - n, n);
}

static void two(struct head *h, unsigned v)
{
    char d[2] = {(char)('0' + v / 10 % 10), (char)('0' + v % 10)};
    head_mem(h, d, 2);
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's days_from_civil, inverted). */
static void civil(uint64_t days, unsigned *y, unsigned *m, unsigned *d)
{
    uint64_t z = days + 719468;
    uint64_t era = z / 146097;
    uint64_t doe = z - era * 146097;
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = (unsigned)(yoe + era * 400 + (*m <= 2));
}

void head_date(struct head *h, uint64_t t)
{
    static const char wday[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    uint64_t days = t / 86400, secs = t % 86400;
    unsigned y, m, d;
    civil(days, &y, &m, &d);
    head_mem(h, wday[days % 7], 3);
    head_lit(h, ", ");
    two(h, d);
    head_lit(h, " ");
    head_mem(h, mon[m - 1], 3);
    head_lit(h, " ");
    head_u64(h, y);
    head_lit(h, " ");
    two(h, (unsigned)(secs / 3600));
    head_lit(h, ":");
    two(h, (unsigned)(secs / 60 % 60));
    head_lit(h, ":");
    two(h, (unsigned)(secs % 60));
    head_lit(h, " GMT");
}

static bool pchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    static const char extra[] = "-._~!$&'()*+,;=:@/";
    for (size_t i = 0; i < sizeof(extra) - 1; i++)
        if (c == (unsigned char)extra[i])
            return true;
    return false;
}

void head_path(struct head *h, const char *path, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];
        if (pchar(c)) {
            head_mem(h, (const char *)&path[i], 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            head_mem(h, e, 3);
        }
    }
}

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Internal Server Error";
    }
}
