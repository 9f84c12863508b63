#!/usr/bin/env bash
# Install (first time) and start the local Kafka broker and ClickHouse server, then print their
# addresses. Progress goes to stderr; stdout is exactly two KEY=VALUE lines, so you can do
#
#   export $(bash infra/local/up.sh)
#
# Idempotent: servers already running are left alone (a start is then ~1 s).
set -euo pipefail

DW_COMPONENT=up
DW_LABEL=Infra
# shellcheck source=infra/local/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

{
  t0="$(dw_now)"
  bash "$DW_LOCAL_DIR/kafka.sh" install
  bash "$DW_LOCAL_DIR/clickhouse.sh" install
  bash "$DW_LOCAL_DIR/clickhouse.sh" start
  bash "$DW_LOCAL_DIR/kafka.sh" start
  dw_log "Kafka and ClickHouse up in $(dw_elapsed "$t0") s (state: $DW_STATE; stop with: bash infra/local/down.sh)"
} >&2

echo "DEPTHWATCH_KAFKA=$(bash "$DW_LOCAL_DIR/kafka.sh" bootstrap)"
echo "DEPTHWATCH_CLICKHOUSE=$(bash "$DW_LOCAL_DIR/clickhouse.sh" url)"
