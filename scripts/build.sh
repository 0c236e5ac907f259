#!/bin/sh
# Builds the single executable dist/agent-supervisor-linux-<arch> and dist/SHA256SUMS
# (Node 24 single executable application; see build/build.ts). Prepares the checkout first.
set -eu
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$ROOT"
sh scripts/setup.sh
exec "$ROOT/.cache/node/bin/node" --disable-warning=ExperimentalWarning build/build.ts "$@"
