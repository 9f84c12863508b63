#!/usr/bin/env bash
# Chromium for the gateway's browser tests (playwright-core drives /usr/bin/chromium; no browser
# download from the Playwright CDN is needed).
#
#   bash infra/local/chromium.sh install   # apt-get install chromium fonts-liberation (if missing)
#   bash infra/local/chromium.sh status    # prints the path and version
#   bash infra/local/chromium.sh path      # prints the executable path only
#
# Running as root: Chromium refuses to start with its sandbox as root; playwright-core passes
# --no-sandbox by default (chromiumSandbox: false), so launch({ executablePath }) just works.
set -euo pipefail

DW_COMPONENT=chromium
DW_LABEL=Chromium
# shellcheck source=infra/local/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

chromium_bin() {
  local b
  for b in "${DEPTHWATCH_CHROMIUM:-}" /usr/bin/chromium "$(command -v chromium 2>/dev/null || true)"; do
    if [[ -n "$b" && -x "$b" ]]; then
      echo "$b"
      return 0
    fi
  done
  return 1
}

smoke_test() {
  local bin out
  bin="$(chromium_bin)"
  out="$(timeout 60 "$bin" --headless --no-sandbox --disable-gpu --dump-dom \
    'data:text/html,<p id=x>depthwatch-ok</p>' 2>"$DW_STATE/chromium-smoke.err" || true)"
  if [[ "$out" != *depthwatch-ok* ]]; then
    dw_tail "$DW_STATE/chromium-smoke.err" 20
    dw_die "$bin is installed but could not render a page headless (see $DW_STATE/chromium-smoke.err)"
  fi
}

cmd_install() {
  mkdir -p "$DW_STATE"
  if chromium_bin >/dev/null; then
    dw_log "already installed: $(chromium_bin)"
    return 0
  fi
  dw_lock chromium-install
  local t0
  t0="$(dw_now)"
  # Without recommends: skips upower/udev/notification-daemon/printing; keeps a real text font.
  dw_apt_install --no-install-recommends chromium fonts-liberation
  chromium_bin >/dev/null || dw_die "apt-get install chromium succeeded but /usr/bin/chromium is missing"
  smoke_test
  dw_log "installed in $(dw_elapsed "$t0") s: $("$(chromium_bin)" --version 2>/dev/null || echo chromium)"
}

cmd_status() {
  if ! chromium_bin >/dev/null; then
    echo "chromium: not installed (bash infra/local/chromium.sh install)"
    return 3
  fi
  mkdir -p "$DW_STATE"
  smoke_test
  echo "chromium: $(chromium_bin) ($("$(chromium_bin)" --version 2>/dev/null)); headless render OK"
}

case "${1:-}" in
  install) cmd_install ;;
  status) cmd_status ;;
  path) chromium_bin || dw_die "chromium not installed (bash infra/local/chromium.sh install)" ;;
  *)
    echo "usage: $0 install|status|path" >&2
    exit 2
    ;;
esac
