#!/bin/bash
# Starts a one-node Slurm cluster on this machine (Debian's slurm-wlm and munge, installed when
# missing), for trying job arrays without a cluster: the controller and the compute daemon run
# here, the node has this machine's CPUs, and jobs run as the submitting user.
#   sudo bash examples/slurm/single-node.sh          # start (idempotent)
#   sudo bash examples/slurm/single-node.sh stop
# Needs root (daemons, /etc/slurm). No systemd needed: the daemons are started directly, which
# also works in containers. Accounting and cgroups are off; everything else is Slurm's default.
set -euo pipefail
[[ $(id -u) -eq 0 ]] || { echo "error: run as root (it starts daemons and writes /etc/slurm)" >&2; exit 2; }

if [[ "${1:-}" == "stop" ]]; then
  for d in slurmd slurmctld munged; do
    [[ -f /run/shrink-slurm/$d.pid ]] && kill "$(cat /run/shrink-slurm/$d.pid)" 2>/dev/null || true
  done
  exit 0
fi

missing=()
for p in slurm-wlm munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

host=$(hostname -s)
cpus=$(nproc)
memory=$(awk '/MemTotal/ { print int($2 / 1024) - 512 }' /proc/meminfo)
mkdir -p /run/shrink-slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
cat > /etc/slurm/slurm.conf <<CONF
# Written by shrink's examples/slurm/single-node.sh: one node, this machine.
ClusterName=shrink-local
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/shrink-slurm/slurmctld.pid
SlurmdPidFile=/run/shrink-slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

running() { [[ -f /run/shrink-slurm/$1.pid ]] && kill -0 "$(cat /run/shrink-slurm/$1.pid)" 2>/dev/null; }
if ! running munged; then
  chown munge:munge /run/munge
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
  cp /run/munge/munged.pid /run/shrink-slurm/munged.pid
fi
running slurmctld || /usr/sbin/slurmctld
running slurmd || /usr/sbin/slurmd

# Wait until the node takes jobs.
for _ in $(seq 1 60); do
  state=$(sinfo -h -N -o %T 2>/dev/null | head -1 || true)
  [[ "$state" == idle* || "$state" == mixed* || "$state" == allocated* ]] && break
  sleep 1
done
sinfo
