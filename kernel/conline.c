#include "conline.h"

void conline_init(struct conline *l)
{
    l->len = l->start = 0;
    l->buf[0] = 0;
    l->overlong = l->lost = l->after_cr = false;
}

void conline_lost(struct conline *l)
{
    l->lost = true;
}

static enum conline_event finish(struct conline *l)
{
    bool overlong = l->overlong, lost = l->lost;
    size_t end = l->len, start = 0;
    while (end && l->buf[end - 1] == ' ')
        end--;
    while (start < end && l->buf[start] == ' ')
        start++;
    l->buf[end] = 0;
    l->start = start;
    l->len = 0;
    l->overlong = l->lost = false;
    if (lost)
        return CONLINE_LOST;
    if (overlong)
        return CONLINE_TOO_LONG;
    return start < end ? CONLINE_LINE : CONLINE_NONE;
}

enum conline_event conline_feed(struct conline *l, char c, char *echo)
{
    bool after_cr = l->after_cr;
    l->after_cr = c == '\r';
    echo[0] = 0;
    if (c == '\n' && after_cr)
        return CONLINE_NONE; /* CR LF is one Enter */
    if (c == '\r' || c == '\n') {
        echo[0] = '\n';
        echo[1] = 0;
        return finish(l);
    }
    if (c == '\b' || c == 0x7f) {
        if (l->len && !l->overlong) {
            l->len--;
            echo[0] = '\b', echo[1] = ' ', echo[2] = '\b', echo[3] = 0;
        }
        return CONLINE_NONE;
    }
    if (c == '\t')
        c = ' ';
    if (c < ' ' || c > '~')
        return CONLINE_NONE;
    if (l->overlong)
        return CONLINE_NONE;
    if (l->len == CONLINE_MAX) {
        l->overlong = true; /* the rest of this line goes nowhere, unechoed */
        return CONLINE_NONE;
    }
    l->buf[l->len++] = c;
    echo[0] = c;
    echo[1] = 0;
    return CONLINE_NONE;
}

const char *conline_text(const struct conline *l)
{
    return l->buf + l->start;
}
