# Shared by the scripts that put the stack on a tap device in a private network namespace.
# Source it; it defines ns_up / ns_down / ns_exec. The namespace and everything in it is
# ours alone and is deleted on exit; nothing here touches the host's own interfaces.
#   QZ_NS        namespace name (default: qz$$)
#   LINUX_IP     the Linux side of the link (default 10.0.0.1/24)
#   LINUX_MTU    the Linux side's MTU (default 1500)
QZ_NS=${QZ_NS:-qz$$}
LINUX_IP=${LINUX_IP:-10.0.0.1/24}
LINUX_MTU=${LINUX_MTU:-1500}
TAP=${TAP:-qz0}

ns_exec() { ip netns exec "$QZ_NS" "$@"; }

# Create the namespace and a persistent tap device with the Linux side configured, so the
# stack's first frames (its ARP announcements) find the link already up.
ns_up() {
    ip netns add "$QZ_NS"
    ns_exec ip link set lo up
    ns_exec ip tuntap add dev "$TAP" mode tap
    ns_exec ip link set "$TAP" mtu "$LINUX_MTU"
    ns_exec ip addr add "$LINUX_IP" dev "$TAP"
    ns_exec ip link set "$TAP" up
}

ns_down() {
    ip netns del "$QZ_NS" 2>/dev/null || true
}

# Start taprun in the namespace in the background; waits until it reports it is up.
# Sets TAPRUN_PID; its output goes to $1.
taprun_start() {
    local log=$1
    shift
    # Not through ns_exec: a function would fork a subshell and $! would name it, not
    # taprun. `ip netns exec` execs its command, so $! is taprun itself.
    ip netns exec "$QZ_NS" "$TAPRUN" --tap "$TAP" "$@" >"$log" 2>&1 &
    TAPRUN_PID=$!
    for _ in $(seq 100); do
        grep -q "taprun: up on" "$log" 2>/dev/null && return 0
        kill -0 "$TAPRUN_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "taprun did not come up:" >&2
    cat "$log" >&2
    return 1
}

taprun_stop() {
    kill -INT "$TAPRUN_PID" 2>/dev/null || true
    wait "$TAPRUN_PID" 2>/dev/null || true
}
