#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the Slurm tests (and a user trying the launcher):
#   one_node.sh start DIR   # munged, slurmctld, slurmd as root; state, logs and slurm.conf in DIR
#   one_node.sh stop DIR    # every daemon it started, and nothing else
# Needs root and Debian's slurmctld, slurmd, slurm-client and munge packages (.ci/run installs
# them). proctrack/linuxproc and task/none: no cgroups, which containers rarely give.
set -euo pipefail
action=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
conf=$dir/slurm.conf

stop() {
  for pidfile in "$dir"/slurmd.pid "$dir"/slurmctld.pid "$dir"/munged.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

if [ "$action" = stop ]; then
  stop
  exit 0
fi

host=$(hostname -s)
cpus=$(nproc)
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
mkdir -p "$dir/state" "$dir/spool" /run/munge /var/log/munge /var/lib/munge /etc/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
[ -s /etc/munge/munge.key ] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null; }
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
cat > "$conf" <<CONF
ClusterName=unetexp
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.log
JobRequeue=1
KillWait=5
MinJobAge=60
NodeName=$host CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
stop
if ! pgrep -x munged > /dev/null; then  # a munged already running (the system's) is left alone
  runuser -u munge -- /usr/sbin/munged
  pgrep -u munge -n -x munged > "$dir/munged.pid"
fi
SLURM_CONF=$conf /usr/sbin/slurmctld -f "$conf"
SLURM_CONF=$conf /usr/sbin/slurmd -f "$conf"
for _ in $(seq 120); do
  if SLURM_CONF=$conf sinfo -h -o %T 2>/dev/null | grep -q -E '^(idle|mixed|allocated)'; then
    echo "SLURM_CONF=$conf"
    exit 0
  fi
  sleep 0.5
done
echo "one_node.sh: the Slurm node did not come up in 60 s (logs in $dir)" >&2
exit 1
