#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for tests/slurm_test.ts: munge, slurmctld and slurmd with a
# minimal slurm.conf (no cgroups, no accounting database; `sacct --completion` reads the job completion
# log). Needs root and Debian's `slurm-wlm` and `munge` packages.
#
#   .ci/slurm.sh start    write the config, start the daemons, wait until `sinfo` shows the node idle
#   .ci/slurm.sh stop     stop the daemons this script started
#   .ci/slurm.sh status   sinfo and squeue
#
# The config goes to /etc/slurm/slurm.conf, which Slurm's commands read by default; an existing one that
# this script did not write is left alone (start then only checks that `sinfo` answers). Everything else
# lives under $SLURM_CI_DIR (default /tmp/ada-df-slurm): state, spool, logs, pid files, the job
# completion log.
set -euo pipefail

CONF=${SLURM_CONF:-/etc/slurm/slurm.conf}
DIR=${SLURM_CI_DIR:-/tmp/ada-df-slurm}
MARKER="# Written by ada-df's .ci/slurm.sh: a one-node cluster for the tests."
WAIT_S=${SLURM_CI_WAIT_S:-60}

log() { echo "slurm.sh: $*" >&2; }
ours() { [ -f "$CONF" ] && head -n1 "$CONF" | grep -qxF "$MARKER"; }

node_state() { sinfo --noheader --nodes="$(hostname -s)" --format=%T 2>/dev/null | head -n1; }

wait_idle() {
  local deadline=$((SECONDS + WAIT_S)) state=""
  while [ $SECONDS -lt $deadline ]; do
    state=$(node_state || true)
    case "$state" in
      idle | mixed | allocated | completing) log "node $(hostname -s) is $state"; return 0 ;;
      *down* | *drain*) scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 1
  done
  log "the node is not idle after ${WAIT_S}s (state '${state:-no answer}'); logs in $DIR/log"
  return 1
}

start_munge() {
  if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
  if [ ! -s /etc/munge/munge.key ]; then
    log "creating /etc/munge/munge.key"
    install -d -o munge -g munge -m 0700 /etc/munge
    if command -v mungekey >/dev/null 2>&1; then
      mungekey --create --keyfile=/etc/munge/munge.key
    else
      dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
  fi
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
  log "starting munged"
  if command -v runuser >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
  else
    /usr/sbin/munged --force
  fi
  for _ in $(seq 1 50); do
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  log "munged does not answer"
  return 1
}

write_conf() {
  local host node
  host=$(hostname -s)
  # slurmd -C prints this machine's node line: CPUs, sockets, cores, threads, RealMemory.
  node=$(slurmd -C | head -n1)
  case "$node" in
    NodeName=*) ;;
    *) log "slurmd -C printed no node line: '$node'"; return 1 ;;
  esac
  install -d "$(dirname "$CONF")" "$DIR/state" "$DIR/spool" "$DIR/log"
  cat >"$CONF.tmp" <<EOF
$MARKER
ClusterName=ada-df-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
SwitchType=switch/none
# No cgroups: processes tracked through /proc, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
# No accounting database (slurmdbd): sacct --completion reads the job completion log instead.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
MinJobAge=600
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=60
$node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
  log "wrote $CONF for node $host"
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  if [ -f "$CONF" ] && ! ours; then
    log "$CONF was not written by this script: not touching it"
    wait_idle
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    log "needs root to start slurmctld and slurmd"
    return 1
  fi
  for tool in munged slurmctld slurmd sinfo; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || {
      log "$tool is not installed (apt-get install slurm-wlm munge)"
      return 1
    }
  done
  start_munge
  if ! (running "$DIR/slurmctld.pid" && running "$DIR/slurmd.pid"); then
    write_conf
  fi
  if ! running "$DIR/slurmctld.pid"; then
    log "starting slurmctld"
    # -i: ignore saved state that does not match this config (a fresh cluster each time).
    /usr/sbin/slurmctld -i
  fi
  if ! running "$DIR/slurmd.pid"; then
    log "starting slurmd"
    /usr/sbin/slurmd
  fi
  wait_idle
}

stop() {
  local pid
  for daemon in slurmd slurmctld; do
    if running "$DIR/$daemon.pid"; then
      pid=$(cat "$DIR/$daemon.pid")
      log "stopping $daemon ($pid)"
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  done
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) sinfo; squeue ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
