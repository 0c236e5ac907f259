#!/bin/sh
# The test command: prepares the checkout (Node 24 + dependencies, see setup.sh), type-checks,
# then runs every test with vitest on Node 24, including the end-to-end tests against the real
# OpenClaw gateway (installed once into .cache/e2e-runtime by `agent-supervisor openclaw install`).
set -eu
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$ROOT"
sh scripts/setup.sh
NODE="$ROOT/.cache/node/bin/node"
"$NODE" node_modules/typescript/bin/tsc --noEmit -p .
exec "$NODE" node_modules/vitest/vitest.mjs run "$@"
