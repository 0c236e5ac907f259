#!/bin/sh
# Builds the single executable dist/agent-supervisor-linux-<arch> and dist/SHA256SUMS, and
# dist/SHA256SUMS.sig when AGENT_SUPERVISOR_SIGNING_KEY_FILE names a release key
# (Node 24 single executable application; see build/build.ts). Prepares the checkout first.
set -eu
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$ROOT"
sh scripts/setup.sh
"$ROOT/.cache/node/bin/node" --disable-warning=ExperimentalWarning build/build.ts "$@"
# Optional: sign dist/SHA256SUMS for hosts that pin the release key (docs/operations.md, "Signed
# releases"). AGENT_SUPERVISOR_SIGNING_KEY_FILE is the private key, or its .pub with the private
# key in ssh-agent. Without it, no signature, and none left over from an earlier build.
if [ -n "${AGENT_SUPERVISOR_SIGNING_KEY_FILE:-}" ]; then
  sh scripts/sign-release.sh "$AGENT_SUPERVISOR_SIGNING_KEY_FILE" dist/SHA256SUMS
else
  rm -f dist/SHA256SUMS.sig
fi
