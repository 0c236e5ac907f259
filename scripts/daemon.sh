#!/bin/sh
# The run command for a development checkout: prepares Node 24 and dependencies, installs the
# managed OpenClaw runtime into the configured data directory (a no-op once installed), then runs
# the daemon in the foreground. Settings come from the env file named by AGENT_SUPERVISOR_CONFIG
# (default: config/dev.env, which uses ./.data and the local mock model on 127.0.0.1:18999).
set -eu
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$ROOT"
sh scripts/setup.sh
CONFIG=${AGENT_SUPERVISOR_CONFIG:-$ROOT/config/dev.env}
bin/agent-supervisor --config "$CONFIG" openclaw install
exec bin/agent-supervisor --config "$CONFIG" run
