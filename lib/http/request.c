/*
 * request.c — HTTP/1.1 request heads (RFC 9112 2-7, RFC 9110), parsed into struct
 * http_request.
 *
 * The parser keeps no state between calls: the server hands it the connection's input
 * again each time more has arrived, and it walks the head from the first byte. Every line
 * that is complete is checked as soon as it is there, so a bad request line or field is
 * refused without waiting for the rest of the head; only what needs the whole head
 * (Host present, Content-Length against Transfer-Encoding) waits for the empty line.
 *
 * Choices the header leaves open:
 *  - Any number of empty lines before the request line are skipped (RFC 9112 2.2) and
 *    counted in the head length, so HTTP_HEAD_MAX bounds them too.
 *  - "*" (OPTIONS only) and authority-form (CONNECT only) targets have no path: req->path
 *    is "/" and the server refuses the method. Either form with another method is -400.
 *  - Absolute-form: scheme http or https (any case), a non-empty authority without
 *    userinfo; the path defaults to "/". The authority is checked, not kept.
 *  - The query is dropped unchecked beyond the visible-ASCII rule for the whole target: no
 *    percent-escape validation there, since nobody decodes it.
 *  - Dot-segments are removed after percent-decoding, so "%2e%2e" and "%2f" count as ".."
 *    and "/": normalization sees what a lookup would. A ".." above the root is -400, and
 *    runs of '/' collapse into one ("/a//b" is "/a/b").
 *  - Host: an empty value is invalid (-400); so is userinfo or anything else outside
 *    uri-host [":" port].
 *  - If-None-Match sent more than once: the first field is kept.
 *  - Range sent more than once: ignored, like a list of ranges.
 *  - Transfer-Encoding: codings from all fields form one list. chunked must be last and
 *    appear once (RFC 9112 6.1, 6.3), else -400, which covers "gzip" alone; "gzip, chunked"
 *    is well-formed but uses a coding we do not implement, -501. Transfer-Encoding on an
 *    HTTP/1.0 request is -400 (RFC 9112 6.1: its framing cannot be trusted).
 *  - Field values may not hold control bytes other than HTAB (RFC 9110 5.5 allows
 *    rejecting them).
 */
#include "http/request.h"

#include <string.h>

#define BAD (-400)
#define TOO_LONG_URI (-414)
#define TOO_LARGE (-431)
#define NOT_IMPL (-501)
#define BAD_VERSION (-505)

#define VERSION_LEN 8 /* "HTTP/1.1" */

/* Indexed by enum http_method; chars, not pointers, so the table has no relocations. */
static const char method_names[][8] = {
    [HTTP_GET] = "GET",         [HTTP_HEAD] = "HEAD",     [HTTP_POST] = "POST",
    [HTTP_PUT] = "PUT",         [HTTP_DELETE] = "DELETE", [HTTP_CONNECT] = "CONNECT",
    [HTTP_OPTIONS] = "OPTIONS", [HTTP_TRACE] = "TRACE",   [HTTP_PATCH] = "PATCH",
};
#define N_METHODS (sizeof(method_names) / sizeof(method_names[0]))

struct span {
    const char *p;
    size_t n;
};

/* What the fields say, collected until the head is complete. */
struct fields {
    unsigned hosts;
    bool conn_close, conn_keep_alive;
    int gzip_q, star_q; /* -1 not listed, 0 refused (sticky), 1 acceptable */
    unsigned te_fields, te_codings, te_chunked;
    bool te_last_chunked, te_other;
    unsigned ranges;
};

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool in_set(unsigned char c, const char *set)
{
    for (; *set; set++)
        if ((unsigned char)*set == c)
            return true;
    return false;
}

/* RFC 9110 5.6.2. A switch rather than in_set: every byte of every field name comes
 * here, and the compiler makes the cases one bit test. */
static bool is_tchar(unsigned char c)
{
    if (is_alpha(c) || is_digit(c))
        return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return true;
    default:
        return false;
    }
}

static bool is_token(const char *p, size_t n)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)p[i]))
            return false;
    return true;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int hex_val(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Case-insensitive comparison of a span with a lowercase literal; ieq takes the
 * literal's length from its type, so no strlen runs for each field and name. */
#define ieq(s, lit) ieq_n((s), (lit), sizeof(lit) - 1)

static bool ieq_n(struct span s, const char *lit, size_t n)
{
    if (s.n != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s.p[i]) != (unsigned char)lit[i])
            return false;
    return true;
}

static struct span trim(const char *p, size_t n)
{
    while (n && is_ows(*p)) {
        p++;
        n--;
    }
    while (n && is_ows(p[n - 1]))
        n--;
    return (struct span){p, n};
}

/* The index of the first `c` in p[0, n), or n. Eight bytes a turn (a word holds a `c`
 * when word ^ c-in-every-byte has a zero byte, which the borrow test below finds
 * exactly): each head is scanned for its line ends, CRs and colons, and byte by byte
 * that was a third of parsing it. */
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

size_t http_find(const char *p, size_t n, char c)
{
    const uint64_t pat = ONES * (unsigned char)c;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        __builtin_memcpy(&w, p + i, 8); /* a load, even where memcpy is not a builtin */
        w ^= pat;
        if ((w - ONES) & ~w & HIGHS)
            break;
    }
    while (i < n && p[i] != c)
        i++;
    return i;
}

/* Does p[0, n) hold a control byte other than HTAB (RFC 9110 5.5 lets us refuse those)?
 * Eight bytes a turn: (w - 0x20 in every byte) & ~w & the high bits is non-zero exactly
 * when some byte is below 0x20, and the same test on w ^ 0x7f finds DEL; a word that
 * trips either (an HTAB does) is looked at byte by byte from there. */
static bool has_ctl(const char *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w, d;
        __builtin_memcpy(&w, p + i, 8);
        d = w ^ (ONES * 0x7f);
        if (((w - ONES * 0x20) & ~w & HIGHS) | ((d - ONES) & ~d & HIGHS))
            break;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return true;
    }
    return false;
}

/* The next element of a comma-separated list (RFC 9110 5.6.1), OWS trimmed. Empty
 * elements are returned too; callers decide. `*at` starts at 0; false once past the end. */
static bool list_next(struct span v, size_t *at, struct span *e)
{
    if (*at > v.n)
        return false;
    size_t end = *at + http_find(v.p + *at, v.n - *at, ',');
    *e = trim(v.p + *at, end - *at);
    *at = end + 1;
    return true;
}

/* 1*DIGIT into a uint64_t; false on anything else or overflow. */
static bool parse_u64(struct span s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s.n)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (!is_digit(c))
            return false;
        if (v > (UINT64_MAX - (c - '0')) / 10)
            return false;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return true;
}

/* uri-host [":" port] (RFC 3986 3.2.2-3.2.3), without userinfo. `need_port` for CONNECT's
 * authority-form (RFC 9112 3.2.3), which requires a non-empty port. */
static bool valid_authority(const char *p, size_t n, bool need_port)
{
    size_t i = 0;
    if (n && p[0] == '[') { /* IP-literal: IPv6address or IPvFuture, checked loosely */
        for (i = 1; i < n && p[i] != ']'; i++) {
            unsigned char c = (unsigned char)p[i];
            if (!is_alpha(c) && !is_digit(c) && !in_set(c, ":.-_~!$&'()*+,;="))
                return false;
        }
        if (i == n || i == 1)
            return false;
        i++;
    } else { /* reg-name or IPv4address; empty is invalid for http (RFC 9110 4.2.1) */
        for (; i < n && p[i] != ':'; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c == '%') {
                if (n - i < 3 || hex_val((unsigned char)p[i + 1]) < 0 ||
                    hex_val((unsigned char)p[i + 2]) < 0)
                    return false;
                i += 2;
            } else if (!is_alpha(c) && !is_digit(c) && !in_set(c, "-._~!$&'()*+,;=")) {
                return false;
            }
        }
        if (i == 0)
            return false;
    }
    if (i == n)
        return !need_port;
    if (p[i] != ':')
        return false;
    if (++i == n)
        return !need_port; /* port = *DIGIT may be empty */
    for (; i < n; i++)
        if (!is_digit((unsigned char)p[i]))
            return false;
    return true;
}

/* Percent-decode `n` bytes of path into req->path; decoded control bytes are refused
 * (a NUL or CR in a path is an attack, never a file name). */
static int decode_path(const char *p, size_t n, struct http_request *req)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '%') {
            int hi = i + 2 < n ? hex_val((unsigned char)p[i + 1]) : -1;
            int lo = i + 2 < n ? hex_val((unsigned char)p[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return BAD;
            c = (unsigned char)(hi << 4 | lo);
            if (c < 0x20 || c == 0x7f)
                return BAD;
            i += 2;
        }
        if (o == HTTP_PATH_MAX)
            return TOO_LONG_URI;
        req->path[o++] = (char)c;
    }
    req->path_len = o;
    return 0;
}

/* RFC 3986 5.2.4 in place on req->path, which starts with '/', and with two departures:
 * a ".." above the root is refused rather than dropped, and empty segments collapse. The
 * output never outruns the input: each kept "/seg" was read at or after where it lands. */
static int remove_dot_segments(struct http_request *req)
{
    char *s = req->path;
    size_t n = req->path_len, o = 0, i = 0;
    bool trail = false;
    while (i < n) {
        size_t st = ++i; /* s[i - 1] is the '/' before this segment */
        while (i < n && s[i] != '/')
            i++;
        size_t sl = i - st;
        if (sl == 0 || (sl == 1 && s[st] == '.')) {
            trail = true;
        } else if (sl == 2 && s[st] == '.' && s[st + 1] == '.') {
            if (o == 0)
                return BAD;
            while (s[o - 1] != '/')
                o--;
            o--;
            trail = true;
        } else {
            s[o++] = '/';
            memmove(s + o, s + st, sl);
            o += sl;
            trail = false;
        }
    }
    if (o == 0 || trail)
        s[o++] = '/';
    s[o] = '\0';
    req->path_len = o;
    req->dir = s[o - 1] == '/';
    return 0;
}

static int set_path(const char *p, size_t n, struct http_request *req)
{
    int rc = decode_path(p, n, req);
    return rc ? rc : remove_dot_segments(req);
}

/* RFC 9112 3.2: origin-form, absolute-form, authority-form (CONNECT), asterisk-form
 * (OPTIONS). A fragment is never part of a request-target. */
static int parse_target(const char *t, size_t n, struct http_request *req)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c < 0x21 || c > 0x7e || c == '#')
            return BAD;
    }
    if (n == 1 && t[0] == '*')
        return req->method == HTTP_OPTIONS ? set_path("/", 1, req) : BAD;
    if (req->method == HTTP_CONNECT)
        return valid_authority(t, n, true) ? set_path("/", 1, req) : BAD;
    if (t[0] == '/')
        return set_path(t, http_find(t, n, '?'), req);

    size_t s = http_find(t, n, ':');
    struct span scheme = {t, s};
    if (!ieq(scheme, "http") && !ieq(scheme, "https"))
        return BAD;
    if (n - s < 3 || t[s + 1] != '/' || t[s + 2] != '/')
        return BAD;
    const char *a = t + s + 3;
    size_t rest = n - s - 3, an = 0;
    while (an < rest && a[an] != '/' && a[an] != '?')
        an++;
    if (!valid_authority(a, an, false))
        return BAD;
    if (an == rest || a[an] == '?')
        return set_path("/", 1, req);
    return set_path(a + an, http_find(a + an, rest - an, '?'), req);
}

/* "HTTP/" DIGIT "." DIGIT (RFC 9112 2.3); the name is case-sensitive. */
static int parse_version(const char *v, size_t n, struct http_request *req)
{
    if (n != VERSION_LEN || memcmp(v, "HTTP/", 5) != 0 || !is_digit((unsigned char)v[5]) ||
        v[6] != '.' || !is_digit((unsigned char)v[7]))
        return BAD;
    if (v[5] != '1')
        return BAD_VERSION;
    req->minor = v[7] == '0' ? 0 : 1;
    return 0;
}

/* What can be judged of a request line that has not ended yet: the method once its SP is
 * there, and the target's length so far, so an endless target is refused early. */
static int partial_request_line(const char *l, size_t n)
{
    size_t sp1 = http_find(l, n, ' ');
    if (sp1 == n)
        return 0;
    if (!is_token(l, sp1))
        return BAD;
    size_t t = sp1 + 1;
    return http_find(l + t, n - t, ' ') > HTTP_TARGET_MAX ? TOO_LONG_URI : 0;
}

/* method SP request-target SP HTTP-version (RFC 9112 3): checked for syntax, then the
 * target's length, the version, the method, the target itself, in that order. */
static int parse_request_line(const char *l, size_t n, struct http_request *req)
{
    size_t sp1 = http_find(l, n, ' ');
    if (sp1 == n || !is_token(l, sp1))
        return BAD;
    const char *t = l + sp1 + 1;
    size_t tn = http_find(t, n - sp1 - 1, ' ');
    if (tn > HTTP_TARGET_MAX)
        return TOO_LONG_URI;
    if (sp1 + 1 + tn == n || tn == 0)
        return BAD;
    int rc = parse_version(t + tn + 1, n - sp1 - 2 - tn, req);
    if (rc)
        return rc;
    size_t m = 0;
    while (m < N_METHODS &&
           (strlen(method_names[m]) != sp1 || memcmp(method_names[m], l, sp1) != 0))
        m++;
    if (m == N_METHODS)
        return NOT_IMPL; /* a token, but no method we know (RFC 9110 9.1: case-sensitive) */
    req->method = (enum http_method)m;
    return parse_target(t, tn, req);
}

/* qvalue (RFC 9110 12.4.2): 1 when above zero, 0 when zero, -1 when malformed. */
static int qvalue(struct span q)
{
    if (!q.n || (q.p[0] != '0' && q.p[0] != '1'))
        return -1;
    if (q.n == 1)
        return q.p[0] == '1';
    if (q.p[1] != '.' || q.n > 5)
        return -1;
    int positive = q.p[0] == '1';
    for (size_t i = 2; i < q.n; i++) {
        if (!is_digit((unsigned char)q.p[i]) || (q.p[0] == '1' && q.p[i] != '0'))
            return -1;
        if (q.p[i] != '0')
            positive = 1;
    }
    return positive;
}

static void note_q(int *state, int q)
{
    if (*state != 0)
        *state = q;
}

/* Accept-Encoding (RFC 9110 12.5.3): codings with an optional weight. A malformed weight
 * counts as q=0, so doubt means identity. "*" stands for gzip unless gzip is listed. */
static void accept_encoding(struct span v, struct fields *f)
{
    struct span e;
    size_t at = 0;
    while (list_next(v, &at, &e)) {
        size_t cn = http_find(e.p, e.n, ';');
        struct span coding = trim(e.p, cn);
        int q = 1;
        size_t pat = cn;
        while (pat < e.n) {
            size_t pn = http_find(e.p + pat + 1, e.n - pat - 1, ';');
            struct span param = trim(e.p + pat + 1, pn);
            if (param.n >= 2 && lower((unsigned char)param.p[0]) == 'q' && param.p[1] == '=')
                q = qvalue((struct span){param.p + 2, param.n - 2}) > 0;
            pat += 1 + pn;
        }
        if (ieq(coding, "gzip") || ieq(coding, "x-gzip"))
            note_q(&f->gzip_q, q);
        else if (ieq(coding, "*"))
            note_q(&f->star_q, q);
    }
}

static void connection(struct span v, struct fields *f)
{
    struct span e;
    size_t at = 0;
    while (list_next(v, &at, &e)) {
        if (ieq(e, "close"))
            f->conn_close = true;
        else if (ieq(e, "keep-alive"))
            f->conn_keep_alive = true;
    }
}

/* RFC 9110 8.6: digits, or a list of identical values; every field must agree. */
static int content_length(struct span v, struct http_request *req)
{
    struct span e;
    size_t at = 0;
    while (list_next(v, &at, &e)) {
        uint64_t n;
        if (!parse_u64(e, &n) || (req->has_length && n != req->content_length))
            return BAD;
        req->has_length = true;
        req->content_length = n;
    }
    return 0;
}

static int transfer_encoding(struct span v, struct fields *f)
{
    struct span e;
    size_t at = 0;
    f->te_fields++;
    while (list_next(v, &at, &e)) {
        if (!e.n)
            continue;
        struct span name = trim(e.p, http_find(e.p, e.n, ';'));
        if (!is_token(name.p, name.n))
            return BAD;
        f->te_codings++;
        f->te_last_chunked = ieq(e, "chunked");
        if (f->te_last_chunked)
            f->te_chunked++;
        else
            f->te_other = true;
    }
    return 0;
}

/* Range (RFC 9110 14.2): one "bytes" range-spec; anything else with unit bytes is sent
 * but ignored, and another unit is as good as no Range at all. */
static void range(struct span v, struct fields *f, struct http_range *out)
{
    struct http_range r = {.present = true};
    size_t eq = http_find(v.p, v.n, '=');
    struct span unit = {v.p, eq};
    if (eq == v.n || !ieq(unit, "bytes"))
        return;
    struct span spec = {v.p + eq + 1, v.n - eq - 1};
    size_t dash = http_find(spec.p, spec.n, '-');
    if (dash == spec.n || http_find(spec.p, spec.n, ',') != spec.n) {
        r.ignored = true;
    } else {
        struct span a = {spec.p, dash};
        struct span b = {spec.p + dash + 1, spec.n - dash - 1};
        if (!a.n) {
            r.suffix = parse_u64(b, &r.last);
            r.ignored = !r.suffix;
        } else if (!parse_u64(a, &r.first)) {
            r.ignored = true;
        } else if (!b.n) {
            r.open = true;
        } else if (!parse_u64(b, &r.last) || r.last < r.first) {
            r.ignored = true;
        }
    }
    if (r.ignored)
        r = (struct http_range){.present = true, .ignored = true};
    if (f->ranges++)
        r = (struct http_range){.present = true, .ignored = true};
    *out = r;
}

/* field-name ":" OWS field-value OWS (RFC 9112 5). */
static int parse_field(const char *l, size_t n, struct fields *f, struct http_request *req)
{
    size_t colon = http_find(l, n, ':');
    if (colon == n || !is_token(l, colon))
        return BAD; /* also obs-fold (RFC 9112 5.2) and SP before the colon (5.1) */
    if (has_ctl(l + colon + 1, n - colon - 1))
        return BAD;
    struct span name = {l, colon};
    struct span v = trim(l + colon + 1, n - colon - 1);

    if (ieq(name, "host")) {
        if (++f->hosts > 1 || !valid_authority(v.p, v.n, false))
            return BAD; /* RFC 9112 3.2 */
        req->has_host = true;
    } else if (ieq(name, "connection")) {
        connection(v, f);
    } else if (ieq(name, "accept-encoding")) {
        accept_encoding(v, f);
    } else if (ieq(name, "if-none-match")) {
        if (!req->if_none_match) {
            req->if_none_match = v.p;
            req->if_none_match_len = v.n;
        }
    } else if (ieq(name, "range")) {
        range(v, f, &req->range);
    } else if (ieq(name, "content-length")) {
        return content_length(v, req);
    } else if (ieq(name, "transfer-encoding")) {
        return transfer_encoding(v, f);
    }
    return 0;
}

/* What only the whole head can tell. */
static int finish(const struct fields *f, struct http_request *req)
{
    if (req->minor == 1 && !f->hosts)
        return BAD;
    if (f->te_fields) {
        /* RFC 9112 6.1-6.3: both framings at once is how requests are smuggled */
        if (req->has_length || req->minor == 0)
            return BAD;
        if (!f->te_codings || !f->te_last_chunked || f->te_chunked > 1)
            return BAD;
        if (f->te_other)
            return NOT_IMPL;
        req->chunked = true;
    }
    /* RFC 9112 9.3 */
    req->keep_alive = !f->conn_close && (req->minor == 1 || f->conn_keep_alive);
    req->accept_gzip = f->gzip_q >= 0 ? f->gzip_q == 1 : f->star_q == 1;
    return 0;
}

/* The next line from `*pos` within `lim` bytes, without its CRLF or LF: 1 and the line,
 * 0 when it has not ended yet, -400 for a CR that does not end it. */
static int next_line(const char *buf, size_t *pos, size_t lim, struct span *line)
{
    size_t n = http_find(buf + *pos, lim - *pos, '\n');
    if (*pos + n == lim)
        return 0;
    line->p = buf + *pos;
    line->n = n && line->p[n - 1] == '\r' ? n - 1 : n;
    if (http_find(line->p, line->n, '\r') != line->n)
        return BAD;
    *pos += n + 1;
    return 1;
}

int http_parse_request(const char *buf, size_t len, struct http_request *req)
{
    size_t lim = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
    int more = len >= HTTP_HEAD_MAX ? TOO_LARGE : 0; /* a head that has not ended in time */
    struct fields f = {.gzip_q = -1, .star_q = -1};
    struct span line;
    size_t pos = 0;
    int rc;

    memset(req, 0, sizeof(*req));
    for (;;) { /* RFC 9112 2.2: empty lines before the request line */
        if (pos == lim)
            return more;
        if (buf[pos] == '\n') {
            pos++;
        } else if (buf[pos] == '\r') {
            if (pos + 1 == lim)
                return more;
            if (buf[pos + 1] != '\n')
                return BAD;
            pos += 2;
        } else {
            break;
        }
    }
    rc = next_line(buf, &pos, lim, &line);
    if (rc == 0) {
        rc = partial_request_line(buf + pos, lim - pos);
        return rc ? rc : more;
    }
    if (rc < 0 || (rc = parse_request_line(line.p, line.n, req)) != 0)
        return rc;
    for (;;) {
        rc = next_line(buf, &pos, lim, &line);
        if (rc <= 0)
            return rc < 0 ? rc : more;
        if (!line.n)
            break;
        if ((rc = parse_field(line.p, line.n, &f, req)) != 0)
            return rc;
    }
    if ((rc = finish(&f, req)) != 0)
        return rc;
    return (int)pos;
}

const char *http_method_name(enum http_method m)
{
    return (unsigned)m < N_METHODS ? method_names[m] : NULL;
}

/* entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE (RFC 9110 8.8.3) */
static bool is_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

bool http_etag_match(const char *v, size_t vlen, const char *etag, size_t etag_len)
{
    if (!v || !etag)
        return false;
    struct span s = trim(v, vlen);
    if (s.n == 1 && s.p[0] == '*')
        return true;
    if (etag_len >= 2 && etag[0] == 'W' && etag[1] == '/') { /* weak comparison */
        etag += 2;
        etag_len -= 2;
    }
    bool found = false;
    size_t i = 0;
    while (i < s.n) {
        while (i < s.n && (is_ows(s.p[i]) || s.p[i] == ','))
            i++; /* empty list elements are allowed (RFC 9110 5.6.1) */
        if (i == s.n)
            break;
        if (s.n - i >= 2 && s.p[i] == 'W' && s.p[i + 1] == '/')
            i += 2;
        if (i == s.n || s.p[i] != '"')
            return false;
        size_t start = i++;
        while (i < s.n && s.p[i] != '"')
            if (!is_etagc((unsigned char)s.p[i++]))
                return false;
        if (i == s.n)
            return false;
        i++;
        if (i - start == etag_len && memcmp(s.p + start, etag, etag_len) == 0)
            found = true;
        while (i < s.n && is_ows(s.p[i]))
            i++;
        if (i < s.n && s.p[i] != ',')
            return false;
    }
    return found;
}
