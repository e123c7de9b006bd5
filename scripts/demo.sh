#!/usr/bin/env bash
# The README's demo. With the end-to-end harness built (test/e2e), it runs a real control
# plane; otherwise it shows the same decisions offline through the gpushare binary.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${GPUSHARE_BIN:-build/gpushare}
if [ -x test/e2e/demo.sh ] && [ "${GPUSHARE_DEMO_OFFLINE:-0}" != 1 ]; then
  exec test/e2e/demo.sh "$@"
fi
echo "gpushare demo (offline): example pods from examples/pods against the nodes in examples/nodes.json"
echo
python3 scripts/demo_offline.py "$BIN"
