#!/usr/bin/env bash
# A throwaway Ceph RGW (1 mon + 1 memstore OSD + radosgw on 127.0.0.1:7480, auth none) for the
# blob store's contract tests against a real S3 server: `.ci/ceph-rgw.sh start|stop DIR`.
# Needs: apt-get install --no-install-recommends ceph-mon ceph-osd radosgw ceph-common.
# Verified setup: shared/spec/scale-out.md §1.6. Stops only the daemons it started (by PID).
set -euo pipefail
action=${1:?usage: ceph-rgw.sh start|stop DIR}
D=${2:?usage: ceph-rgw.sh start|stop DIR}
PORT=${RGW_PORT:-7480}

start() {
    rm -rf "$D"
    mkdir -p "$D"/{run,log,mon,osd/ceph-0}
    local fsid
    fsid=$(python3 -c "import uuid; print(uuid.uuid4())")
    # The `ms ... mode = crc secure` lines are required: without them radosgw loops forever in
    # AUTH_CONNECTING. `mon data avail warn = 5`: the mon warns below 30 % free disk otherwise.
    cat > "$D/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:3300,v1:127.0.0.1:6789]
mon initial members = a
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
ms client mode = crc secure
ms mon cluster mode = crc secure
ms cluster mode = crc secure
ms service mode = crc secure
ms mon service mode = crc secure
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 5
osd objectstore = memstore
memstore device bytes = $((${RGW_MEMSTORE_GIB:-4} * 1024 * 1024 * 1024))
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
run dir = $D/run
log file = $D/log/\$name.log
admin socket = $D/run/\$name.\$pid.asok
mon data = $D/mon/\$cluster-\$id
osd data = $D/osd/\$cluster-\$id
keyring = /dev/null
[client.admin]
# Deleted objects' RADOS data is freed by RGW's garbage collector, by default two hours later:
# the memstore (RAM, RGW_MEMSTORE_GIB) would fill up and stall writes across benchmark rounds.
rgw gc obj min wait = 5
rgw gc processor period = 5
rgw frontends = beast endpoint=127.0.0.1:$PORT
CONF
    local C="-c $D/ceph.conf"
    monmaptool --create --addv a "[v2:127.0.0.1:3300,v1:127.0.0.1:6789]" --fsid "$fsid" \
        "$D/monmap" >/dev/null
    ceph-mon $C --mkfs -i a --monmap "$D/monmap"
    ceph-mon $C -i a -f > "$D/log/mon.out" 2>&1 & echo $! > "$D/mon.pid"
    ceph $C osd create >/dev/null
    ceph-osd $C -i 0 --mkfs > /dev/null 2>&1
    ceph-osd $C -i 0 -f > "$D/log/osd.out" 2>&1 & echo $! > "$D/osd.pid"
    wait_for 60 "ceph $C osd stat 2>/dev/null | grep -q '1 up'"
    radosgw $C -n client.admin -f > "$D/log/rgw.out" 2>&1 & echo $! > "$D/rgw.pid"
    wait_for 60 "curl -sf -o /dev/null http://127.0.0.1:$PORT/"
    radosgw-admin $C user create --uid=test --display-name=test --access-key=test \
        --secret-key=testtest >/dev/null
    echo "RGW up: S3_ENDPOINT=http://127.0.0.1:$PORT S3_ACCESS_KEY=test S3_SECRET_KEY=testtest"
}

wait_for() {
    local deadline=$((SECONDS + $1))
    until eval "$2"; do
        if ((SECONDS > deadline)); then
            echo "ceph-rgw: timed out waiting for: $2 (logs in $D/log)" >&2
            return 1
        fi
        sleep 0.2
    done
}

stop() {
    local name pid
    for name in rgw osd mon; do
        [[ -f "$D/$name.pid" ]] || continue
        pid=$(cat "$D/$name.pid")
        kill "$pid" 2>/dev/null || true
        # The OSD may ignore TERM for a while: KILL it after ~5 s.
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$D/$name.pid"
    done
    rm -rf "$D"
}

case "$action" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: ceph-rgw.sh start|stop DIR" >&2; exit 2 ;;
esac
