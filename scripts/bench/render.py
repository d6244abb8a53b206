"""How the bench writes its figures: medians, numbers and markdown tables, the same way in
every table (run.py's rows and boot_profile.py's profile)."""
import statistics


def median(xs):
    return statistics.median(xs) if xs else None


def fmt(x):
    if x is None:
        return "—"
    if x == int(x) and abs(x) < 1e6:
        return "%d" % x
    a = abs(x)
    if a >= 100:
        return "%.0f" % x
    if a >= 10:
        return "%.1f" % x
    if a >= 1:
        return "%.2f" % x
    return "%.3f" % x


def markdown_table(head, rows):
    """Lines of a markdown table, each column as wide as its widest cell."""
    w = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w[i]) for i, c in enumerate(cells)) + " |"
    return [line(head), "|" + "|".join("-" * (n + 2) for n in w) + "|"] + \
        [line(r) for r in rows]
