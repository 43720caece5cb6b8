#!/usr/bin/env bash
# Stops the test cluster that start.sh started in $DROVER_CLUSTER_DIR [/tmp/drover-test-cluster]:
# cancels its jobs, then stops its daemons consumers first, by the pids start.sh recorded (each
# checked against its start time). Nothing is stopped by name or pattern, so another cluster on the
# same machine is never touched. Idempotent; logs stay in $DROVER_CLUSTER_DIR/log.
set -uo pipefail
export PATH="/usr/sbin:/sbin:/usr/bin:/bin:$PATH"
DIR=${DROVER_CLUSTER_DIR:-/tmp/drover-test-cluster}
say() { printf '[test-cluster] %s\n' "$*" >&2; }
[ -d "$DIR/pids" ] || { say "nothing to stop in $DIR"; exit 0; }
DIR=$(cd "$DIR" && pwd)
export SLURM_CONF=$DIR/etc/slurm.conf

start_time() { awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null; }
pid_of() { local pid st; read -r pid st 2>/dev/null <"$DIR/pids/$1" || return 1; [ "$(start_time "$pid")" = "$st" ] && echo "$pid"; }

if pid_of slurmctld >/dev/null; then
  ids=$(timeout 10 squeue -h -o %A 2>/dev/null | tr '\n' ' ')
  if [ -n "${ids// /}" ]; then
    say "cancelling jobs $ids"
    # shellcheck disable=SC2086
    timeout 20 scancel $ids 2>/dev/null
    for _ in $(seq 100); do [ -z "$(timeout 10 squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.2; done
  fi
fi

stop() { # names...: TERM, wait up to 30 s, then KILL
  local n pid left
  for n in "$@"; do pid=$(pid_of "$n") && kill -TERM "$pid" 2>/dev/null; done
  for _ in $(seq 300); do
    left=""; for n in "$@"; do pid_of "$n" >/dev/null && left="$left $n"; done
    [ -z "$left" ] && break; sleep 0.1
  done
  for n in $left; do pid=$(pid_of "$n") && { say "$n ignored TERM for 30 s: KILL"; kill -KILL "$pid"; }; done
  for n in "$@"; do rm -f "$DIR/pids/$n"; done
}
stop slurmd slurmctld
stop slurmdbd
stop mariadbd munged
rmdir "$DIR/pids" 2>/dev/null
rm -f "$DIR/settings" "$DIR/env.sh"
say "stopped (logs in $DIR/log)"
