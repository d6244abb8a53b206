#!/bin/sh
# run.sh DIR RUNS [ARGS...] — run DIR/quartz_bench and DIR/lwip_bench alternately, RUNS
# times each (quartz lwip quartz lwip ...), one core each, one at a time; print every JSON
# row as it comes, keep them in DIR/results.jsonl, then print one summary row per result
# row (medians, and quartz / lwip).
set -eu
dir=$1
runs=$2
shift 2
out=$dir/results.jsonl
: > "$out"
echo "bench-host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $runs runs each" >&2
i=1
while [ "$i" -le "$runs" ]; do
    for stack in quartz lwip; do
        # One thread each, so one core; not pinned, so a busy core can be left for the
        # other (cpu_value, per CPU second, is the figure that load disturbs least).
        if ! "$dir/${stack}_bench" --site "$dir/site.img" "$@" > "$dir/run.tmp"; then
            cat "$dir/run.tmp"
            echo "bench-host: ${stack}_bench failed" >&2
            exit 1
        fi
        tee -a "$out" < "$dir/run.tmp"
    done
    i=$((i + 1))
done
/usr/bin/python3 "$(dirname "$0")/summarize.py" "$out"
