#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for trying `adderlab slurm` and for its test.
#
#   scripts/slurm-single-node.sh start   # munged, slurmctld and slurmd; waits until the node is idle
#   scripts/slurm-single-node.sh stop    # stops the daemons this script started (munged too, if it did)
#   scripts/slurm-single-node.sh status  # exit 0 when the node answers idle or busy
#
# Needs root and Debian's `slurm-wlm` and `munge` (apt-get install -y slurm-wlm munge).
# The cluster is one node named after `hostname -s`, with this machine's CPUs (nproc) and
# memory, one partition `debug`; its state, spool and logs go to $SLURM_SINGLE_NODE_DIR
# (default /tmp/adderlab-slurm). Its slurm.conf is written to /etc/slurm/slurm.conf, so
# sbatch, squeue and sinfo find it as on a real cluster; an existing slurm.conf that this
# script did not write is never replaced. `start` on a running cluster only checks it.
# Every wait is bounded; on failure the reason and the end of the daemon's log are printed.
set -euo pipefail

DIR=${SLURM_SINGLE_NODE_DIR:-/tmp/adderlab-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# written by adderlab scripts/slurm-single-node.sh"
NODE=$(hostname -s)
WAIT=${SLURM_SINGLE_NODE_WAIT:-60}   # seconds for the node to become idle

die() { echo "slurm-single-node: $*" >&2; exit 1; }

# The last lines of a log file, for an error message.
tail_of() { [ -f "$1" ] && { echo "--- last lines of $1:" >&2; tail -n 20 "$1" >&2; } || echo "--- $1 does not exist" >&2; }

# True when sinfo shows the node idle, mixed or allocated (it answers and takes jobs).
node_up() {
    local state
    state=$(timeout 10 sinfo --noheader --nodes="$NODE" --format=%T 2>/dev/null | head -n 1) || return 1
    case "$state" in idle|mixed|allocated|completing) return 0 ;; *) return 1 ;; esac
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_munge() {
    [ -f /etc/munge/munge.key ] || {
        echo "slurm-single-node: creating /etc/munge/munge.key"
        mkdir -p /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
        chown munge:munge /etc/munge/munge.key 2>/dev/null || true
        chmod 400 /etc/munge/munge.key
    }
    if timeout 10 munge -n </dev/null 2>/dev/null | timeout 10 unmunge >/dev/null 2>&1; then return 0; fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge /etc/munge/munge.key 2>/dev/null || true
    chmod 755 /run/munge
    if id munge >/dev/null 2>&1; then
        runuser -u munge -- munged || die "munged did not start (see /var/log/munge/munged.log)"
    else
        munged --force || die "munged did not start"
    fi
    mkdir -p "$DIR" && touch "$DIR/munged.started"   # so that stop stops it
    for _ in $(seq 1 50); do
        timeout 10 munge -n </dev/null 2>/dev/null | timeout 10 unmunge >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    tail_of /var/log/munge/munged.log
    die "munged started but 'munge -n | unmunge' still fails after 10 s"
}

write_conf() {
    if [ -f "$CONF" ] && ! grep -qxF "$MARK" "$CONF"; then
        die "$CONF exists and was not written by this script; leaving it alone (move it away to use a single-node cluster)"
    fi
    local cpus mem
    cpus=$(nproc)
    # What slurmd itself detects, so that the node is not drained for claiming too much.
    mem=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n 1)
    [ -n "$mem" ] || mem=$(( $(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024 ))
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" /etc/slurm
    cat >"$CONF.tmp" <<EOF
$MARK
# A single-node cluster in $DIR (state, spool, logs); stop it with scripts/slurm-single-node.sh stop.
ClusterName=adderlab
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=300
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
}

start() {
    [ "$(id -u)" = 0 ] || die "must run as root (slurmd runs jobs as their users)"
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
        || die "slurmctld, slurmd or munged is missing: apt-get install -y slurm-wlm munge"
    start_munge
    # sinfo takes ~10 s to give up on a controller that is not there: ask it only when one
    # should be (ours running, or a slurm.conf that is not ours).
    if pid_alive "$DIR/slurmctld.pid" || { [ -f "$CONF" ] && ! grep -qxF "$MARK" "$CONF"; }; then
        if node_up; then echo "slurm-single-node: already up: $NODE is $(sinfo --noheader --nodes="$NODE" --format=%T | head -n 1)"; return 0; fi
    fi
    write_conf
    pid_alive "$DIR/slurmctld.pid" || slurmctld -i || { tail_of "$DIR/log/slurmctld.log"; die "slurmctld did not start"; }
    pid_alive "$DIR/slurmd.pid" || slurmd || { tail_of "$DIR/log/slurmd.log"; die "slurmd did not start"; }
    local end=$(( SECONDS + WAIT ))
    while (( SECONDS < end )); do
        if node_up; then
            echo "slurm-single-node: started: $NODE is idle ($(nproc) CPUs; config $CONF, logs in $DIR/log)"
            return 0
        fi
        # A node left down or drained by an earlier cluster: tell slurmctld it is back.
        case "$(timeout 10 sinfo --noheader --nodes="$NODE" --format=%T 2>/dev/null | head -n 1)" in
            down*|drain*) timeout 10 scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;;
        esac
        sleep 1
    done
    echo "slurm-single-node: sinfo says: $(timeout 10 sinfo --noheader --nodes="$NODE" --format='%T %E' 2>&1 | head -n 1)" >&2
    tail_of "$DIR/log/slurmctld.log"
    tail_of "$DIR/log/slurmd.log"
    die "$NODE did not become idle within $WAIT s"
}

stop() {
    local daemon pid
    # slurmctld stops itself and tells slurmd to; signals are the fallback.
    pid_alive "$DIR/slurmctld.pid" && timeout 20 scontrol shutdown >/dev/null 2>&1 || true
    for daemon in slurmd slurmctld; do
        pid_alive "$DIR/$daemon.pid" || continue
        pid=$(cat "$DIR/$daemon.pid")
        for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        fi
        if kill -0 "$pid" 2>/dev/null; then
            echo "slurm-single-node: $daemon (pid $pid) ignored SIGTERM for 5 s (started with SIGTERM blocked?): SIGKILL" >&2
            kill -9 "$pid"
        fi
        echo "slurm-single-node: stopped $daemon (pid $pid)"
    done
    if [ -f "$DIR/munged.started" ] && pid_alive /run/munge/munged.pid; then
        pid=$(cat /run/munge/munged.pid)
        kill "$pid"
        for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$pid" 2>/dev/null && { echo "slurm-single-node: munged (pid $pid) ignored SIGTERM: SIGKILL" >&2; kill -9 "$pid"; }
        echo "slurm-single-node: stopped munged (pid $pid)"
    fi
    rm -f "$DIR/munged.started"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) node_up && { echo "slurm-single-node: $NODE is up"; exit 0; } || { echo "slurm-single-node: $NODE is not up"; exit 1; } ;;   # ~10 s when no controller answers
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
