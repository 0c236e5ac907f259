#!/bin/sh
# Render cloud-init/user-data.yaml for one host (docs/operations.md, "cloud-init").
#
#   AGENT_SUPERVISOR_BASE_URL=https://HOST/PATH \
#   CONTROL_PLANE_URL=https://cp.example.com CONTROL_PLANE_TOKEN=... RUNTIME_ID=... ACCOUNT_ID=... \
#     sh cloud-init/render.sh [--ca-file FILE]... [--signing-key-file FILE] [-o FILE]
#
# Takes the five values from the environment and refuses any that would break the YAML or the
# env file, then substitutes the template's ${NAME} placeholders of these five names (as
# envsubst restricted to them does: without --ca-file the output is the same). Each --ca-file
# adds its certificates to a ca_certs block that replaces the template's commented-out slot, and
# turns on NODE_EXTRA_CA_CERTS in the env file, since Node does not read the system store.
# --signing-key-file pins the release key: its public key line fills the template's commented-out
# signing_key slot, a write_files item that install.sh reads (docs/operations.md, "Signed releases").
# Exit codes (sysexits.h): 0 ok, 64 usage, 65 a bad value or CA file, 1 anything else.
set -eu

HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
TEMPLATE=$HERE/user-data.yaml
VARS="AGENT_SUPERVISOR_BASE_URL CONTROL_PLANE_URL CONTROL_PLANE_TOKEN RUNTIME_ID ACCOUNT_ID"
CP_VARS="CONTROL_PLANE_URL CONTROL_PLANE_TOKEN RUNTIME_ID ACCOUNT_ID"
# Debian's bundle of the system store, which ca_certs (update-ca-certificates) rebuilds.
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
EX_USAGE=64
EX_DATAERR=65

OUT=
CA_COUNT=0
KEY_FILE=
signing_key= # set by signing_key_ok, read from install.sh
TMP_DIR=

die() {
  code=$1
  shift
  printf '%s\n' "render.sh: error: $*" >&2
  exit "$code"
}

usage() {
  cat <<'USAGE'
Usage: [VAR=value ...] sh cloud-init/render.sh [--ca-file FILE]... [-o FILE]

Renders cloud-init/user-data.yaml from these environment variables:
  AGENT_SUPERVISOR_BASE_URL  required: where install.sh and the release are downloaded from
                             (https://, or http:// to loopback only)
  CONTROL_PLANE_URL, CONTROL_PLANE_TOKEN, RUNTIME_ID, ACCOUNT_ID
                             all four, or none for a standalone host
Values may not hold whitespace, control characters, quotes, backslashes, $, # or `.

  --ca-file FILE   trust the CA certificate(s) in FILE (PEM; repeatable): fills the template's
                   ca_certs slot and sets NODE_EXTRA_CA_CERTS in the env file
  --signing-key-file FILE
                   pin the release key, FILE holding its OpenSSH public key line (release-key.pub):
                   fills the template's signing_key slot; install.sh then verifies SHA256SUMS.sig
  -o, --output FILE
                   write to FILE (mode 0600: it holds the service token) instead of stdout
  -h, --help       this text

Exit codes: 0 ok, 64 usage, 65 a bad value or CA file, 1 anything else.
USAGE
}

cleanup() {
  if [ -n "$TMP_DIR" ]; then rm -rf "$TMP_DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The rendered file and the temp files hold the service token.
umask 077
TMP_DIR=$(mktemp -d) || die 1 "cannot create a temporary directory"

# Copy the certificate blocks of $1 into $TMP_DIR/ca.N, dropping any text around them.
add_ca() {
  file=$1
  if [ ! -f "$file" ] || [ ! -r "$file" ]; then die "$EX_DATAERR" "--ca-file $file: cannot read it"; fi
  CA_COUNT=$((CA_COUNT + 1))
  status=0
  awk '
    { sub(/\r$/, ""); sub(/^[ \t]+/, ""); sub(/[ \t]+$/, "") }
    /^-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----$/ { key = 1 }
    $0 == "-----BEGIN CERTIFICATE-----" { if (inside) cut = 1; inside = 1; blocks++; print; next }
    $0 == "-----END CERTIFICATE-----" { if (inside) print; inside = 0; next }
    inside && $0 == "" { next }
    inside { if ($0 !~ /^[A-Za-z0-9+\/=]+$/) garbled = 1; print }
    END {
      if (key) exit 3
      if (inside || cut) exit 4
      if (garbled) exit 5
      if (blocks == 0) exit 2
    }
  ' "$file" >"$TMP_DIR/ca.$CA_COUNT" || status=$?
  case $status in
    0) ;;
    2) die "$EX_DATAERR" "--ca-file $file holds no PEM certificate (-----BEGIN CERTIFICATE-----)" ;;
    3) die "$EX_DATAERR" "--ca-file $file holds a private key: pass the CA certificate only (user data is readable through the metadata service)" ;;
    4) die "$EX_DATAERR" "--ca-file $file has a certificate without its -----END CERTIFICATE----- line" ;;
    5) die "$EX_DATAERR" "--ca-file $file has a line that is not base64 inside a certificate" ;;
    *) die 1 "--ca-file $file: cannot read it (awk exit $status)" ;;
  esac
}

while [ $# -gt 0 ]; do
  case $1 in
    --ca-file)
      [ $# -ge 2 ] || { usage >&2; die "$EX_USAGE" "--ca-file needs a file"; }
      add_ca "$2"
      shift 2
      ;;
    --ca-file=*) add_ca "${1#--ca-file=}"; shift ;;
    --signing-key-file)
      [ $# -ge 2 ] || { usage >&2; die "$EX_USAGE" "--signing-key-file needs a file"; }
      KEY_FILE=$2
      shift 2
      ;;
    --signing-key-file=*) KEY_FILE=${1#--signing-key-file=}; shift ;;
    -o | --output)
      [ $# -ge 2 ] || { usage >&2; die "$EX_USAGE" "$1 needs a file"; }
      OUT=$2
      shift 2
      ;;
    --output=*) OUT=${1#--output=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "$EX_USAGE" "unknown argument: $1" ;;
  esac
done

# --- the values -------------------------------------------------------------------------------

NL='
'
for name in $VARS; do
  eval "value=\${$name:-}"
  case $value in
    *"$NL"*) die "$EX_DATAERR" "$name contains a line break, which would end its line in the env file or the YAML" ;;
    *[[:space:][:cntrl:]\"\'\\\$\#\`]*)
      die "$EX_DATAERR" "$name contains whitespace, a control character, a quote, a backslash, \$, # or \`, which would break the YAML or the env file" ;;
  esac
done

# url_ok URL: "https://, or plain http only to loopback", with no userinfo; signing_key_ok KEY:
# one OpenSSH public key line, which it sets signing_key to without its comment. Each rule is kept
# once, in install.sh (which is downloaded alone and so cannot read this file): its lines between
# "# >>> NAME" and "# <<< NAME" are read from there, from the same checkout.
INSTALL_SH=$(CDPATH='' cd -- "$HERE/.." && pwd)/install.sh
[ -r "$INSTALL_SH" ] || die 1 "cannot read $INSTALL_SH (the URL and key rules are defined there)"
for rule in url_ok signing_key_ok; do
  rule_def=$(sed -n "/^# >>> $rule/,/^# <<< $rule/p" "$INSTALL_SH")
  case $rule_def in
    *"$rule() {"*"# <<< $rule") eval "$rule_def" ;;
    *) die 1 "$INSTALL_SH has no $rule function between its '# >>> $rule' and '# <<< $rule' lines" ;;
  esac
done

[ -n "${AGENT_SUPERVISOR_BASE_URL:-}" ] ||
  die "$EX_DATAERR" "AGENT_SUPERVISOR_BASE_URL is not set: the URL install.sh and the release are downloaded from"
url_ok "$AGENT_SUPERVISOR_BASE_URL" ||
  die "$EX_DATAERR" "AGENT_SUPERVISOR_BASE_URL must be https:// (plain http only to loopback): $AGENT_SUPERVISOR_BASE_URL"

missing=
given=0
for name in $CP_VARS; do
  eval "value=\${$name:-}"
  if [ -n "$value" ]; then given=$((given + 1)); else missing="$missing $name"; fi
done
if [ "$given" -ne 0 ] && [ -n "$missing" ]; then
  die "$EX_DATAERR" "CONTROL_PLANE_URL, CONTROL_PLANE_TOKEN, RUNTIME_ID and ACCOUNT_ID go together (a standalone host sets none); missing:$missing"
fi
if [ "$given" -ne 0 ]; then
  url_ok "$CONTROL_PLANE_URL" ||
    die "$EX_DATAERR" "CONTROL_PLANE_URL must be https:// (plain http only to loopback): $CONTROL_PLANE_URL"
fi

# The release key: one public key line (a trailing newline, CR or comment allowed).
: >"$TMP_DIR/signing_key.yaml"
if [ -n "$KEY_FILE" ]; then
  if [ ! -f "$KEY_FILE" ] || [ ! -r "$KEY_FILE" ]; then die "$EX_DATAERR" "--signing-key-file $KEY_FILE: cannot read it"; fi
  if grep -q 'PRIVATE KEY' "$KEY_FILE"; then
    die "$EX_DATAERR" "--signing-key-file $KEY_FILE holds a private key: pass the public key (.pub) only (user data is readable through the metadata service)"
  fi
  key_line=$(tr -d '\r' <"$KEY_FILE")
  signing_key_ok "$key_line" ||
    die "$EX_DATAERR" "--signing-key-file $KEY_FILE is not one OpenSSH public key line (\"ssh-ed25519 AAAA... [comment]\")"
  printf '%s\n' "  - path: /etc/agent-supervisor/release-signing-key.pub" "    owner: root:root" \
    '    permissions: "0644"' "    content: |" "      $signing_key" >"$TMP_DIR/signing_key.yaml"
fi

# --- render -----------------------------------------------------------------------------------

[ -r "$TEMPLATE" ] || die 1 "cannot read the template $TEMPLATE"

# The ca_certs block: each file's certificates as one block scalar, indented for YAML.
: >"$TMP_DIR/ca_certs.yaml"
if [ "$CA_COUNT" -gt 0 ]; then
  printf 'ca_certs:\n  trusted:\n' >"$TMP_DIR/ca_certs.yaml"
  i=1
  while [ "$i" -le "$CA_COUNT" ]; do
    printf '    - |\n' >>"$TMP_DIR/ca_certs.yaml"
    sed 's/^/      /' "$TMP_DIR/ca.$i" >>"$TMP_DIR/ca_certs.yaml"
    i=$((i + 1))
  done
fi

# Placeholders are replaced literally (no regex, no & or \ in replacements), one pass, so a value
# can never bring in a placeholder of its own. ENVIRON holds the five exported values.
status=0
WITH_KEY=${KEY_FILE:+1} KEY_BLOCK=$TMP_DIR/signing_key.yaml \
VARS=$VARS CA_BLOCK=$TMP_DIR/ca_certs.yaml WITH_CA=$CA_COUNT CA_BUNDLE=$CA_BUNDLE awk '
  BEGIN {
    with_key = ENVIRON["WITH_KEY"] + 0
    n = split(ENVIRON["VARS"], names, " ")
    for (i = 1; i <= n; i++) want[names[i]] = 1
    with_ca = ENVIRON["WITH_CA"] + 0
    env_line = "      #NODE_EXTRA_CA_CERTS=" ENVIRON["CA_BUNDLE"]
  }
  function subst(line,    out, p, rest, q, name) {
    out = ""
    while ((p = index(line, "${")) > 0) {
      rest = substr(line, p + 2)
      q = index(rest, "}")
      if (q == 0) break
      name = substr(rest, 1, q - 1)
      if (name in want) {
        out = out substr(line, 1, p - 1) ENVIRON[name]
        line = substr(rest, q + 1)
      } else {
        out = out substr(line, 1, p + 1)
        line = rest
      }
    }
    return out line
  }
  with_ca && index($0, "# >>> ca_certs") == 1 {
    slot = 1
    while ((getline block < ENVIRON["CA_BLOCK"]) > 0) print block
    next
  }
  slot == 1 { if (index($0, "# <<< ca_certs") == 1) slot = 2; next }
  with_key && index($0, "# >>> signing_key") == 1 {
    key_slot = 1
    while ((getline block < ENVIRON["KEY_BLOCK"]) > 0) print block
    next
  }
  key_slot == 1 { if (index($0, "# <<< signing_key") == 1) key_slot = 2; next }
  with_ca && $0 == env_line { print substr(env_line, 1, 6) substr(env_line, 8); env_done = 1; next }
  { print subst($0) }
  END {
    if (with_ca && slot != 2) exit 3
    if (with_ca && !env_done) exit 4
    if (with_key && key_slot != 2) exit 5
  }
' "$TEMPLATE" >"$TMP_DIR/user-data.yaml" || status=$?
case $status in
  0) ;;
  3) die 1 "the template $TEMPLATE has no complete ca_certs slot (# >>> ca_certs ... # <<< ca_certs)" ;;
  4) die 1 "the template $TEMPLATE has no '#NODE_EXTRA_CA_CERTS=$CA_BUNDLE' line in its env file" ;;
  5) die 1 "the template $TEMPLATE has no complete signing_key slot (# >>> signing_key ... # <<< signing_key)" ;;
  *) die 1 "rendering $TEMPLATE failed (awk exit $status)" ;;
esac

if [ -z "$OUT" ]; then
  cat "$TMP_DIR/user-data.yaml"
else
  # Next to the target, then renamed: a reader never sees half a file.
  tmp_out="$OUT.tmp.$$"
  cp "$TMP_DIR/user-data.yaml" "$tmp_out" || die 1 "cannot write $tmp_out"
  mv -f "$tmp_out" "$OUT" || { rm -f "$tmp_out"; die 1 "cannot write $OUT"; }
fi
