#!/usr/bin/env bash
# `npm test`: provision what the tests need from this repository, run `bun test`, stop what it started.
#   Slurm       a cluster that answers `sinfo` (SLURM_CONF, /etc/slurm, or tests/cluster's env.sh) is
#               used and left running; otherwise tests/cluster/start.sh starts one and stop.sh ends it.
#   Chromium    /usr/bin/chromium (or $DROVER_TEST_CHROMIUM) for tests/web.
#   Prometheus  /usr/bin/prometheus (or $DROVER_TEST_PROMETHEUS) for tests/server/prometheus.test.ts.
#   sshd        /usr/sbin/sshd (or $DROVER_TEST_SSHD; Debian openssh-server, only the binary: the tests start
#               their own on a free port) for the ssh plugin in tests/plugins/conformance.test.ts.
# What is missing is apt-installed when running as root; otherwise the run stops at once with one line
# naming the install command and the variable that skips that group on purpose
# (DROVER_TEST_SKIP_SLURM=1, DROVER_TEST_SKIP_BROWSER=1, DROVER_TEST_SKIP_PROMETHEUS=1, DROVER_TEST_SKIP_SSHD=1).
# Arguments go to `bun test` (`npm test -- tests/web` runs one folder and provisions only what it needs).
# A developer with a cluster up can also run `bun test FILE` directly.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '[npm test] %s\n' "$*" >&2; }
as_root() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

# Does this run include tests of a group? (no arguments: every test)
wants() { [ $# -eq 1 ] && return 0; local pat=$1 a; shift; for a in "$@"; do [[ $a == *$pat* || $pat == *$a* ]] && return 0; done; return 1; }

# apt-get install with package scripts kept from starting system-wide daemons
apt_install() {
  local policy=0 log; log=$(mktemp)
  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; policy=1; }
  say "installing $* (apt-get)"
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >"$log" 2>&1 ||
    { apt-get update -q >>"$log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$log" 2>&1; }; }
  local rc=$?
  [ "$policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || { tail -n 5 "$log" >&2; say "apt-get install $* failed"; }
  rm -f "$log"; return "$rc"
}

# need SKIPVAR WHAT PATH PACKAGE: the file exists, or gets installed, or the run stops here
need() {
  local skip=$1 what=$2 path=$3 pkg=$4
  [ "${!skip:-}" = 1 ] && return 0 # the tests themselves warn once that they skip
  [ -x "$path" ] && return 0
  as_root && apt_install "$pkg" && [ -x "$path" ] && return 0
  say "missing: $what ($path); install it with 'sudo apt-get install -y $pkg', or set $skip=1 to skip those tests"
  exit 2
}

slurm_answers() { timeout 10 sinfo -h -o %T 2>/dev/null | grep -q .; }

started_cluster=0
cleanup() {
  [ "$started_cluster" = 1 ] || return 0
  say "stopping the Slurm test cluster this run started"
  bash tests/cluster/stop.sh || say "tests/cluster/stop.sh failed; see ${DROVER_CLUSTER_DIR:-/tmp/drover-test-cluster}/log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if wants web "$@"; then need DROVER_TEST_SKIP_BROWSER Chromium "${DROVER_TEST_CHROMIUM:-/usr/bin/chromium}" chromium; fi
if wants prometheus "$@"; then need DROVER_TEST_SKIP_PROMETHEUS Prometheus "${DROVER_TEST_PROMETHEUS:-/usr/bin/prometheus}" prometheus; fi
if wants tests/plugins/conformance "$@"; then need DROVER_TEST_SKIP_SSHD 'OpenSSH server' "${DROVER_TEST_SSHD:-/usr/sbin/sshd}" openssh-server; fi
if wants slurm "$@" && [ "${DROVER_TEST_SKIP_SLURM:-}" != 1 ]; then
  env_file=${DROVER_CLUSTER_DIR:-/tmp/drover-test-cluster}/env.sh
  if [ -z "${SLURM_CONF:-}" ] && [ -f "$env_file" ] && ! slurm_answers; then . "$env_file"; fi
  if slurm_answers; then
    say "using the Slurm cluster that answers (${SLURM_CONF:-/etc/slurm/slurm.conf}); it stays up"
  elif as_root; then
    say "starting the Slurm test cluster (tests/cluster/start.sh)"
    started_cluster=1 # from here on: stop.sh stops whatever start.sh got to start (by its recorded pids)
    env=$(bash tests/cluster/start.sh) || { say "tests/cluster/start.sh failed (see above); DROVER_TEST_SKIP_SLURM=1 skips the Slurm tests"; exit 2; }
    eval "$env"
  else
    say "missing: a Slurm cluster; start one with 'sudo bash tests/cluster/start.sh' (then eval its output), or set DROVER_TEST_SKIP_SLURM=1 to skip those tests"
    exit 2
  fi
fi

bun test --timeout 60000 "$@"
