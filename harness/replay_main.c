/*
 * replay — replay a capture through the stack and diff what it sends.
 *
 *     replay [-v] [--write actual.pcap] capture.pcap [more.pcap ...]
 *
 * Exit status (for `git bisect run`): 0 every capture matches, 1 a difference,
 * 125 a capture could not be replayed at all.
 */
#include <stdio.h>
#include <string.h>

#include "replay.h"

static int usage(void)
{
    fprintf(stderr, "usage: replay [-v] [--write actual.pcap] capture.pcap [more.pcap ...]\n"
                    "  exit 0: the stack sends what the capture recorded; 1: it differs;\n"
                    "  125: cannot replay (missing or unreadable capture or sidecar)\n");
    return REPLAY_CANNOT_RUN;
}

int main(int argc, char **argv)
{
    struct replay_opts o = {0};
    int i = 1, worst = REPLAY_MATCH, n = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-v") == 0)
            o.verbose = true;
        else if (strcmp(argv[i], "--write") == 0 && i + 1 < argc)
            o.write_path = argv[++i];
        else
            return usage();
    }
    if (i == argc || (o.write_path && argc - i > 1))
        return usage();
    for (; i < argc; i++, n++) {
        int rc = replay_file(argv[i], &o, stdout);
        /* "Cannot run" outranks "differs": bisect must skip, not blame, such a commit. */
        if (rc == REPLAY_CANNOT_RUN || (rc == REPLAY_DIFFER && worst == REPLAY_MATCH))
            worst = rc;
    }
    return worst;
}
