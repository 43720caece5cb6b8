#!/usr/bin/env bash
# drover's Slurm test cluster: one node on 127.0.0.1 from Debian's packages, no systemd.
# munged, MariaDB + slurmdbd (accounting, so `sacct` answers), slurmctld and slurmd, all as root,
# every file (configs, state, spool, logs, pids, the munge key and socket, the database) under one
# folder, so it never touches another cluster on the same machine. Installs what is missing with
# apt-get when run as root. `tests/run.sh` (npm test) calls it when no cluster answers; stop.sh
# stops exactly what it started.
#
# stdout: only `export NAME=value` lines, so `eval "$(bash tests/cluster/start.sh)"` works; they are
# also written to $DROVER_CLUSTER_DIR/env.sh, where the tests look when SLURM_CONF is not set.
# Progress and errors go to stderr. A second start with the same settings that finds it up only
# prints the environment again.
#
# Settings (environment):
#   DROVER_CLUSTER_DIR        everything of the cluster lives here        [/tmp/drover-test-cluster]
#   DROVER_CLUSTER_PORT_BASE  slurmctld=B, slurmd=B+1, slurmdbd=B+2, MariaDB=B+3 (127.0.0.1) [6817]
#   DROVER_CLUSTER_GPUS       fake GPUs as GRES gpu:N (0: none)           [2]
#   DROVER_CLUSTER_CPUS       CPUs of the node (more than nproc oversubscribes) [nproc]
#   DROVER_CLUSTER_TIMEOUT    seconds to wait for each daemon, the node, the first job [90]
set -euo pipefail
export PATH="/usr/sbin:/sbin:/usr/bin:/bin:$PATH"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${DROVER_CLUSTER_DIR:-/tmp/drover-test-cluster}
BASE=${DROVER_CLUSTER_PORT_BASE:-6817}
GPUS=${DROVER_CLUSTER_GPUS:-2}
CPUS=${DROVER_CLUSTER_CPUS:-$(nproc)}
TIMEOUT=${DROVER_CLUSTER_TIMEOUT:-90}
CLUSTER=drover
PKGS="munge slurm-wlm slurmdbd mariadb-server"

say() { printf '[test-cluster] %s\n' "$*" >&2; }
started=0
fail() {
  say "ERROR: $*"
  for f in "$DIR"/log/*.log; do [ -s "$f" ] && { say "---- $f (last lines)"; tail -n 8 "$f" >&2; }; done
  [ "$started" = 1 ] && DROVER_CLUSTER_DIR="$DIR" bash "$HERE/stop.sh" >&2 || true
  exit 1
}

[ "$(id -u)" = 0 ] || fail "must run as root (the daemons run as root): sudo bash $HERE/start.sh"
case "$BASE$GPUS$CPUS$TIMEOUT" in *[!0-9]*) fail "DROVER_CLUSTER_PORT_BASE/GPUS/CPUS/TIMEOUT must be integers" ;; esac
mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd)
CONF=$DIR/etc/slurm.conf
export SLURM_CONF=$CONF
NODE=$(hostname -s 2>/dev/null || hostname)
SETTINGS="node=$NODE ports=$BASE gpus=$GPUS cpus=$CPUS"
exec 8>"$DIR/.lock"; flock -w 300 8 || fail "another start.sh holds $DIR/.lock"

print_env() {
  printf 'export SLURM_CONF=%s\nexport DROVER_CLUSTER_DIR=%s\nexport DROVER_CLUSTER_NODE=%s\n' "$CONF" "$DIR" "$NODE" | tee "$DIR/env.sh"
}

# Each pid file holds "PID START" (field 22 of /proc/PID/stat): a recycled pid is never taken for ours.
start_time() { awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null; }
running() { local pid st; read -r pid st 2>/dev/null <"$DIR/pids/$1" || return 1; [ "$(start_time "$pid")" = "$st" ]; }
DAEMONS="munged mariadbd slurmdbd slurmctld slurmd"

if [ "$(cat "$DIR/settings" 2>/dev/null)" = "$SETTINGS" ]; then
  up=1; for d in $DAEMONS; do running "$d" || up=0; done
  if [ "$up" = 1 ] && timeout 10 sinfo -h -o %T 2>/dev/null | grep -q .; then say "already up in $DIR"; print_env; exit 0; fi
fi
[ -d "$DIR/pids" ] && { say "stopping the old cluster in $DIR first"; DROVER_CLUSTER_DIR="$DIR" bash "$HERE/stop.sh" >&2; }

# ---- packages (package scripts must not start system-wide daemons: we run our own)
missing=""
for c in munged mariadbd mariadb-install-db slurmdbd slurmctld slurmd sbatch squeue sacct sinfo scontrol sacctmgr; do
  command -v "$c" >/dev/null || missing="$missing $c"
done
if [ -n "$missing" ]; then
  command -v apt-get >/dev/null || fail "missing:$missing; install Debian's $PKGS by hand"
  say "installing $PKGS (missing:$missing)"
  policy=0; [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; policy=1; }
  apt() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $PKGS >>"$DIR/apt.log" 2>&1; }
  apt || { apt-get update -q >>"$DIR/apt.log" 2>&1; apt; } || { [ "$policy" = 1 ] && rm -f /usr/sbin/policy-rc.d; fail "apt-get install $PKGS failed (see $DIR/apt.log)"; }
  [ "$policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

# ---- a fresh folder
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$BASE" $((BASE + 1)) $((BASE + 2)) $((BASE + 3)); do
  port_taken "$p" && fail "127.0.0.1:$p is in use; pick other ports with DROVER_CLUSTER_PORT_BASE"
done
for d in etc state spool log run db munge dev pids; do rm -rf "${DIR:?}/$d"; mkdir -p "$DIR/$d"; done
rm -f "$DIR/settings" "$DIR/env.sh"
chmod 755 "$DIR" "$DIR/munge" # munged wants its socket folder reachable by everyone

launch() { # name argv... : own session, output to log/NAME.log, no inherited descriptors
  local name=$1; shift
  ( for fd in /proc/$BASHPID/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-"; done
    exec setsid "$@" >>"$DIR/log/$name.log" 2>&1 </dev/null ) &
  local pid=$! st=""
  for _ in $(seq 50); do st=$(start_time "$pid"); [ -n "$st" ] && break; sleep 0.1; done
  [ -n "$st" ] || fail "$name exited at once"
  echo "$pid $st" >"$DIR/pids/$name"; started=1
  say "started $name (pid $pid)"
}
until_ok() { # name argv... : retry the probe until it passes, the daemon dies, or TIMEOUT
  local name=$1 end=$((SECONDS + TIMEOUT)); shift
  until timeout 10 "$@" >/dev/null 2>&1; do
    running "$name" || fail "$name died"
    [ "$SECONDS" -lt "$end" ] || fail "$name not ready after ${TIMEOUT}s"
    sleep 0.2
  done
}

# ---- munge: our own key and socket (another cluster's munged is never used)
SOCK=$DIR/munge/socket
head -c 1024 /dev/urandom >"$DIR/munge/key"; chmod 600 "$DIR/munge/key"
launch munged munged --foreground --force --socket="$SOCK" --key-file="$DIR/munge/key" \
  --pid-file="$DIR/run/munged.pid" --seed-file="$DIR/munge/seed" --log-file="$DIR/log/munged.log"
until_ok munged bash -c "munge -n -S '$SOCK' | unmunge -S '$SOCK'"

# ---- fake GPUs: character devices with NVIDIA's major number, so Slurm sets CUDA_VISIBLE_DEVICES
: >"$DIR/etc/gres.conf"; GRES=""
if [ "$GPUS" -gt 0 ]; then
  for i in $(seq 0 $((GPUS - 1))); do mknod "$DIR/dev/nvidia$i" c 195 "$i" 2>/dev/null || : >"$DIR/dev/nvidia$i"; done
  printf 'AutoDetect=off\nNodeName=%s Name=gpu File=%s/dev/nvidia[0-%d]\n' "$NODE" "$DIR" $((GPUS - 1)) >"$DIR/etc/gres.conf"
  GRES="Gres=gpu:$GPUS"
fi
MEM=$(( $(awk '/^MemAvailable:/ {print $2}' /proc/meminfo) / 1024 - 1024 )); [ "$MEM" -ge 512 ] || MEM=512

cat >"$CONF" <<EOF
# drover's test cluster (tests/cluster/start.sh)
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$BASE
SlurmdPort=$((BASE + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCK
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
ReturnToService=2
KillWait=5
InactiveLimit=0
MinJobAge=300
MpiDefault=none
MailProg=/bin/true
$([ "$CPUS" != "$(nproc)" ] && echo SlurmdParameters=config_overrides)
$([ "$GPUS" -gt 0 ] && echo GresTypes=gpu)
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$((BASE + 2))
# the munge socket clients use to reach slurmdbd (not the system's default socket)
AccountingStoragePass=$SOCK
$([ "$GPUS" -gt 0 ] && echo AccountingStorageTRES=gres/gpu)
JobAcctGatherType=jobacct_gather/linux
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM $GRES State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE MaxTime=INFINITE State=UP
EOF

# ---- accounting: our own MariaDB data dir, socket and port
DBSOCK=$DIR/db/socket
mariadb-install-db --no-defaults --user=root --datadir="$DIR/db/data" --auth-root-authentication-method=socket \
  --skip-test-db --skip-name-resolve >"$DIR/log/mariadb-install.log" 2>&1 || fail "mariadb-install-db failed"
launch mariadbd mariadbd --no-defaults --user=root --datadir="$DIR/db/data" --socket="$DBSOCK" --port=$((BASE + 3)) \
  --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$DIR/run/mariadbd.pid" --log-error="$DIR/log/mariadbd.log" \
  --innodb-buffer-pool-size=128M --innodb-lock-wait-timeout=900 --innodb-flush-log-at-trx-commit=0
until_ok mariadbd mariadb --no-defaults -S "$DBSOCK" -u root -e 'SELECT 1'
mariadb --no-defaults -S "$DBSOCK" -u root -e "
  CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
  GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;" || fail "could not create the database user"
cat >"$DIR/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$SOCK
DbdHost=$NODE
DbdAddr=127.0.0.1
DbdPort=$((BASE + 2))
SlurmUser=root
LogFile=$DIR/log/slurmdbd.log
PidFile=$DIR/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$((BASE + 3))
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
chmod 600 "$DIR/etc/slurmdbd.conf"
launch slurmdbd slurmdbd -D # reads slurmdbd.conf beside $SLURM_CONF
until_ok slurmdbd sacctmgr -n list cluster
for add in "cluster $CLUSTER" "account drover Cluster=$CLUSTER" "user root Account=drover Cluster=$CLUSTER"; do
  # shellcheck disable=SC2086
  timeout 20 sacctmgr -i add $add >/dev/null 2>&1 || true
done

# ---- controller and node
launch slurmctld slurmctld -D -i
until_ok slurmctld scontrol ping
launch slurmd slurmd -D -N "$NODE"
end=$((SECONDS + TIMEOUT)); resumed=0
while st=$(timeout 10 sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -n1); [ "$st" != idle ]; do
  running slurmctld && running slurmd || fail "slurmctld or slurmd died"
  case "$st" in down*|drain*|fail*) [ "$resumed" = 0 ] || fail "node $NODE is $st"
    resumed=1; timeout 10 scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;; esac
  [ "$SECONDS" -lt "$end" ] || fail "node $NODE not idle after ${TIMEOUT}s (${st:-no state})"
  sleep 0.2
done

# ---- one job end to end, and in sacct (so the tests never wait for the first scheduling pass)
job=$(timeout 20 sbatch --parsable -J cluster-check -D / -o /dev/null -e /dev/null --wrap true) || fail "sbatch failed"
until_ok slurmdbd bash -c "sacct -n -P -X -j '$job' -o State | grep -qx COMPLETED"

echo "$SETTINGS" >"$DIR/settings"
say "up in ${SECONDS}s: node $NODE, $CPUS CPUs, $GPUS GPUs, accounting on, ports $BASE-$((BASE + 3)); stop: bash $HERE/stop.sh"
print_env
