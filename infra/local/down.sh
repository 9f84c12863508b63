#!/usr/bin/env bash
# Stop the local Kafka broker and ClickHouse server started by infra/local/up.sh (or by ensure.ts).
# Data is kept under infra/local/.state/ unless --reset is given, which deletes it.
#
#   bash infra/local/down.sh            # stop, keep data
#   bash infra/local/down.sh --reset    # stop and delete all Kafka topics and ClickHouse tables
set -euo pipefail

DW_COMPONENT=down
DW_LABEL=Infra
# shellcheck source=infra/local/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

action=stop
case "${1:-}" in
  "") ;;
  --reset) action=reset ;;
  *)
    echo "usage: $0 [--reset]" >&2
    exit 2
    ;;
esac

rc=0
bash "$DW_LOCAL_DIR/kafka.sh" "$action" || rc=$?
bash "$DW_LOCAL_DIR/clickhouse.sh" "$action" || rc=$?
exit "$rc"
