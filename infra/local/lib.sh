# shellcheck shell=bash
# shellcheck disable=SC2034,SC2016  # variables are used by the sourcing scripts; bash -c bodies are single-quoted on purpose
# Shared helpers for infra/local/*.sh. Sourced, never executed.
#
# Conventions:
#   - every script runs with `set -euo pipefail`;
#   - progress goes to stdout prefixed with "[<component>]";
#   - errors go to stderr as "<Component>: <what is missing / what failed>" and exit non-zero,
#     so callers (ensure.ts, .ci/run) can surface the message verbatim.

DW_LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DW_ROOT="$(cd "$DW_LOCAL_DIR/../.." && pwd)"
DW_STATE="${DEPTHWATCH_STATE_DIR:-$DW_LOCAL_DIR/.state}"
DW_CACHE="${DEPTHWATCH_CACHE:-$HOME/.cache/depthwatch}"
DW_WAIT_SECS="${DEPTHWATCH_WAIT_SECS:-60}"

# Set by each script before using the helpers.
DW_COMPONENT="${DW_COMPONENT:-infra}"   # e.g. "kafka"
DW_LABEL="${DW_LABEL:-Infra}"           # e.g. "Kafka" (used in error messages)

dw_log() { printf '[%s] %s\n' "$DW_COMPONENT" "$*"; }
dw_warn() { printf '[%s] WARNING: %s\n' "$DW_COMPONENT" "$*" >&2; }
dw_die() { printf '%s: %s\n' "$DW_LABEL" "$*" >&2; exit 1; }

# dw_tail FILE [N]: print the last N lines of FILE (to stderr), if it exists.
dw_tail() {
  local f="$1" n="${2:-40}"
  if [[ -s "$f" ]]; then
    printf -- '----- last %s lines of %s -----\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2 || true
    printf -- '-----\n' >&2
  fi
}

dw_now() { date +%s.%N; }
dw_elapsed() { awk -v a="$1" -v b="$(dw_now)" 'BEGIN { printf "%.1f", b - a }'; }

# dw_port_open HOST PORT: true if something accepts TCP connections there.
dw_port_open() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# dw_port_owner PORT: best-effort description of the listener on PORT (for error messages).
dw_port_owner() {
  if command -v ss >/dev/null 2>&1; then
    local out
    out="$(ss -Hltnp "sport = :$1" 2>/dev/null || true)"
    out="$(sed -n 's/.*users:(\(.*\))/\1/p' <<<"$out")"
    echo "${out%%$'\n'*}"
  fi
}

# dw_pid_alive PIDFILE PATTERN: true if PIDFILE names a live process whose command line contains
# PATTERN (guards against a stale pid file whose pid was reused by something else).
dw_pid_alive() {
  local pidfile="$1" pattern="$2" pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(<"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 0
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmdline" == *"$pattern"* ]]
}

# dw_lock NAME: take an exclusive lock (fd 9) for the rest of the script, so concurrent callers
# (parallel vitest workers, two terminals) do not install/start twice. Released on exit.
dw_lock() {
  command -v flock >/dev/null 2>&1 || return 0
  mkdir -p "$DW_STATE"
  exec 9>"$DW_STATE/.$1.lock"
  if ! flock -w 600 9; then
    dw_die "timed out after 600 s waiting for lock $DW_STATE/.$1.lock (another install/start still running?)"
  fi
}

# dw_spawn PIDFILE OUTFILE CMD...: start CMD detached (own session, stdin /dev/null, stdout+stderr
# to OUTFILE, lock fd closed) and record its pid. The detached process must not keep the caller's
# pipes open, otherwise `execFileSync` in ensure.ts would block until the daemon exits.
dw_spawn() {
  local pidfile="$1" outfile="$2"
  shift 2
  rm -f "$pidfile"
  # The inner bash writes its own pid and then execs CMD, so the pid file holds CMD's pid.
  nohup setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" \
    </dev/null >>"$outfile" 2>&1 9>&- &
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s "$pidfile" ]] && return 0
    sleep 0.1
  done
  dw_die "failed to launch: $* (no pid after 5 s; see $outfile)"
}

# dw_stop_pid PIDFILE PATTERN NAME: SIGTERM, wait up to DEPTHWATCH_STOP_SECS (30), then SIGKILL.
dw_stop_pid() {
  local pidfile="$1" pattern="$2" name="$3" pid i secs="${DEPTHWATCH_STOP_SECS:-30}"
  if ! dw_pid_alive "$pidfile" "$pattern"; then
    rm -f "$pidfile"
    dw_log "$name is not running"
    return 0
  fi
  pid="$(<"$pidfile")"
  dw_log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    dw_warn "$name (pid $pid) still alive after ${secs} s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -f "$pidfile"
  dw_log "$name stopped"
}

# dw_sudo CMD...: run as root (directly, or through passwordless sudo).
dw_sudo() {
  if [[ "$(id -u)" == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    return 126
  fi
}

# dw_apt_install [APT-OPTION...] PKG...: apt-get install -y PKG... non-interactively, without letting the
# packages' maintainer scripts start system daemons (temporary policy-rc.d returning 101, the
# standard Debian mechanism), running `apt-get update` first only if a package has no candidate.
dw_apt_install() {
  local log="$DW_STATE/apt-$DW_COMPONENT.log" pkg policy need_update=0 rc=0 pkgs=()
  for pkg in "$@"; do
    [[ "$pkg" == -* ]] || pkgs+=("$pkg") # skip apt-get options such as --no-install-recommends
  done
  mkdir -p "$DW_STATE"
  command -v apt-get >/dev/null 2>&1 ||
    dw_die "apt-get not found: cannot install ${pkgs[*]} (this helper supports Debian/Ubuntu only; install ${pkgs[*]} yourself)"
  if [[ "$(id -u)" != 0 ]] && ! { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; then
    dw_die "need root (or passwordless sudo) to apt-get install ${pkgs[*]}"
  fi
  for pkg in "${pkgs[@]}"; do
    # (capture first: `apt-cache | grep -q` would SIGPIPE apt-cache and fail under pipefail)
    policy="$(apt-cache policy "$pkg" 2>/dev/null || true)"
    if ! grep -q 'Candidate: [^(]' <<<"$policy"; then need_update=1; fi
  done
  : >"$log"
  if ((need_update)); then
    dw_log "apt-get update (package lists missing or without ${pkgs[*]})"
    if ! dw_sudo apt-get update -o DPkg::Lock::Timeout=300 >>"$log" 2>&1; then
      dw_tail "$log" 20
      dw_die "apt-get update failed, needed to install ${pkgs[*]} (see $log)"
    fi
  fi
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# temporary, created by depthwatch infra/local/lib.sh during apt-get install\nexit 101\n' |
      dw_sudo tee /usr/sbin/policy-rc.d >/dev/null
    dw_sudo chmod 755 /usr/sbin/policy-rc.d
    trap 'dw_sudo rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  dw_log "apt-get install -y $* (log: $log)"
  dw_sudo env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confold "$@" \
    >>"$log" 2>&1 || rc=$?
  if grep -q 'created by depthwatch' /usr/sbin/policy-rc.d 2>/dev/null; then
    dw_sudo rm -f /usr/sbin/policy-rc.d
    trap - EXIT
  fi
  if ((rc != 0)); then
    dw_tail "$log" 25
    dw_die "apt-get install ${pkgs[*]} failed (exit $rc): $(grep -E '^(E:|dpkg: error)' "$log" | tail -n 3 | tr '\n' ' ')(full log: $log)"
  fi
}
