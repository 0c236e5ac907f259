#!/bin/sh
# Sign a release's SHA256SUMS for install.sh's optional authenticity check (docs/operations.md,
# "Signed releases"): writes SUMS.sig next to it with `ssh-keygen -Y sign` (OpenSSH >= 8.1).
#
#   sh scripts/sign-release.sh KEY [SUMS]     (SUMS defaults to dist/SHA256SUMS)
#
# KEY is the release's private key file, or its public key file (KEY.pub) when the private key is
# held by ssh-agent. Hosts pin the public key: install.sh verifies SUMS.sig against it, in the
# namespace below, before it trusts SHA256SUMS. scripts/build.sh runs this when
# AGENT_SUPERVISOR_SIGNING_KEY_FILE is set; normal builds need no key.
set -eu

# Must match install.sh's SIG_NAMESPACE.
NAMESPACE=agent-supervisor-release

die() {
  printf '%s\n' "sign-release.sh: error: $*" >&2
  exit 1
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then die "usage: sh scripts/sign-release.sh KEY [SUMS]"; fi
key=$1
sums=${2:-$(dirname -- "$0")/../dist/SHA256SUMS}
[ -r "$key" ] || die "cannot read the key $key"
[ -r "$sums" ] || die "cannot read $sums"
command -v ssh-keygen >/dev/null 2>&1 || die "ssh-keygen is not installed (Debian: openssh-client)"

# From stdin to stdout: ssh-keygen would ask before overwriting an existing signature file.
tmp="$sums.sig.tmp.$$"
trap 'rm -f "$tmp"' EXIT
ssh-keygen -q -Y sign -f "$key" -n "$NAMESPACE" <"$sums" >"$tmp" || die "ssh-keygen -Y sign failed with $key"
mv -f "$tmp" "$sums.sig"
printf '%s\n' "sign-release.sh: wrote $sums.sig (namespace $NAMESPACE)"
