#!/usr/bin/env bash
# Prometheus tooling for depthwatch: we only need `promtool` (check/test alert rules, check config,
# lint /metrics output). Debian's `prometheus` package is the only apt source of it; this script
# installs it WITHOUT leaving a Prometheus daemon running (nothing on :9090, no node-exporter).
#
#   bash infra/local/prometheus.sh install   # apt-get install --no-install-recommends prometheus
#   bash infra/local/prometheus.sh status    # promtool version, and whether a daemon runs
set -euo pipefail

DW_COMPONENT=prometheus
DW_LABEL=Prometheus
# shellcheck source=infra/local/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

# A prometheus daemon started by the package's maintainer scripts runs as user "prometheus".
daemon_pids() { pgrep -u prometheus 2>/dev/null | tr '\n' ' ' || true; }

stop_package_daemons() {
  local pids
  pids="$(daemon_pids)"
  [[ -n "${pids// /}" ]] || return 0
  dw_log "stopping daemon(s) started by the package (pids: $pids)"
  for svc in prometheus prometheus-node-exporter; do
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
      dw_sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true
    elif [[ -x "/etc/init.d/$svc" ]]; then
      dw_sudo "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
    fi
  done
  sleep 1
  pids="$(daemon_pids)"
  if [[ -n "${pids// /}" ]]; then
    local -a list
    read -r -a list <<<"$pids"
    dw_sudo kill "${list[@]}" 2>/dev/null || true
  fi
}

cmd_install() {
  if command -v promtool >/dev/null 2>&1; then
    dw_log "promtool already installed: $(promtool --version 2>&1 | head -n 1)"
    stop_package_daemons
    return 0
  fi
  dw_lock prometheus-install
  local t0
  t0="$(dw_now)"
  # --no-install-recommends: skips prometheus-node-exporter (another daemon we do not want).
  dw_apt_install --no-install-recommends prometheus
  command -v promtool >/dev/null 2>&1 || dw_die "apt-get install prometheus succeeded but promtool is not on PATH"
  stop_package_daemons
  dw_log "installed in $(dw_elapsed "$t0") s: $(promtool --version 2>&1 | head -n 1)"
}

cmd_status() {
  if ! command -v promtool >/dev/null 2>&1; then
    echo "prometheus: promtool not installed (bash infra/local/prometheus.sh install)"
    return 3
  fi
  local pids
  pids="$(daemon_pids)"
  echo "prometheus: $(promtool --version 2>&1 | head -n 1); daemon: ${pids:+running (pids $pids)}${pids:-not running}"
}

case "${1:-}" in
  install) cmd_install ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 install|status" >&2
    exit 2
    ;;
esac
