#!/usr/bin/env bash
# A GlusterFS volume mounted twice (FUSE), for the scaled tests on a real network filesystem:
#   .ci/glusterfs.sh start DIR   -> prints "DIR/m1:DIR/m2" (one mount per replica)
#   .ci/glusterfs.sh stop DIR    -> unmounts, stops the volume and glusterd (by PID)
# glusterd refuses a brick on 127.0.0.1 but takes 127.0.0.2. The client-side caches are turned
# off: with Gluster's defaults, concurrent commits through two mounts lost updates (spec/scale-out
# §1.5); docs/deployment.md lists the same options for production.
set -euo pipefail
action=$1
dir=$(realpath -m "$2")
volume=hugbox-ci
mount_options=entry-timeout=0,negative-timeout=0

stop() {
    for m in "$dir/m1" "$dir/m2"; do
        mountpoint -q "$m" && { umount "$m" || umount -l "$m"; } || true
    done
    gluster --mode=script volume stop "$volume" force >/dev/null 2>&1 || true
    gluster --mode=script volume delete "$volume" >/dev/null 2>&1 || true
    if [[ -f "$dir/glusterd.pid" ]]; then
        kill "$(cat "$dir/glusterd.pid")" 2>/dev/null || true
        rm -f "$dir/glusterd.pid"
    fi
    # The brick and client daemons of this volume, if glusterd could not stop them.
    pkill -f -- "--volfile-id[= ]/*$volume" 2>/dev/null || true
}

case "$action" in
start)
    stop
    mkdir -p "$dir/brick" "$dir/m1" "$dir/m2"
    glusterd -N --log-file="$dir/glusterd.log" >"$dir/glusterd.out" 2>&1 &
    echo $! >"$dir/glusterd.pid"
    for _ in $(seq 50); do gluster --mode=script volume list >/dev/null 2>&1 && break; sleep 0.2; done
    # A volume left by an earlier run that could not stop it (glusterd keeps it in /var/lib).
    if gluster --mode=script volume list 2>/dev/null | grep -qx "$volume"; then
        gluster --mode=script volume stop "$volume" force >/dev/null 2>&1 || true
        gluster --mode=script volume delete "$volume" >/dev/null
    fi
    gluster --mode=script volume create "$volume" "127.0.0.2:$dir/brick" force >/dev/null
    for option in stat-prefetch quick-read io-cache read-ahead write-behind open-behind \
        readdir-ahead; do
        gluster --mode=script volume set "$volume" "performance.$option" off >/dev/null
    done
    gluster --mode=script volume set "$volume" performance.md-cache-timeout 0 >/dev/null
    gluster --mode=script volume start "$volume" >/dev/null
    # The kernel's FUSE caches too: a name looked up through one mount stays mapped to the file
    # it found for a second by default, so a ref that another mount replaced could be read stale.
    for m in "$dir/m1" "$dir/m2"; do
        mount -t glusterfs -o "$mount_options" "127.0.0.2:/$volume" "$m"
    done
    echo "$dir/m1:$dir/m2"
    ;;
stop) stop ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
