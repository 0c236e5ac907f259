#!/bin/sh
# Install, upgrade or remove agent-supervisor on a Linux host (docs/operations.md).
#
#   curl -fsSL "$AGENT_SUPERVISOR_BASE_URL/install.sh" | sudo -E sh
#   sh install.sh --base-url https://HOST/PATH [--root DIR] [--skip-openclaw] [--signing-key KEY]
#   sh install.sh --uninstall [--purge]
#
# Downloads agent-supervisor-linux-<arch> and SHA256SUMS from the base URL, checks the checksum
# (and, when a release key is pinned, SHA256SUMS's signature SHA256SUMS.sig with ssh-keygen -Y),
# installs the binary to /usr/local/bin, creates the system users (the daemon's and the gateway's),
# the data and config directories and (only if absent) the env file, installs and enables the
# systemd unit, installs the managed OpenClaw runtime as the service user and starts the service.
# Running it again upgrades in place: new binary, refreshed unit, the env file and the data kept.
#
# Settings taken from the environment when the env file is first written: CONTROL_PLANE_URL,
# CONTROL_PLANE_TOKEN, RUNTIME_ID, ACCOUNT_ID, MOONSHOT_API_KEY, OPENAI_API_KEY,
# OPENAI_COMPAT_BASE_URL, OPENAI_COMPAT_API_KEY, OPENAI_COMPAT_MODEL. The token goes to its own
# file, which a drop-in hands to the unit as a systemd credential; one found in an existing env
# file is moved there.
#
# Everything up to the last line only sets constants and defines functions; the last line runs
# main. Piped from curl, a transfer cut off anywhere runs nothing.
set -eu

NAME=agent-supervisor
SERVICE_USER=agent-supervisor
BIN_PATH=/usr/local/bin/agent-supervisor
DATA_DIR=/var/lib/agent-supervisor
CONFIG_DIR=/etc/agent-supervisor
ENV_FILE=/etc/agent-supervisor/agent-supervisor.env
UNIT_PATH=/etc/systemd/system/agent-supervisor.service
# The gateway's own user: what the agent runs cannot read the daemon's files (docs/operations.md).
GATEWAY_USER=agent-supervisor-gw
# The control-plane token, delivered to the unit as the credential control-plane-token by a
# drop-in, so that a host without a token has no unit that fails on a missing credential file.
TOKEN_FILE=/etc/agent-supervisor/control-plane-token
TOKEN_DROP_IN=/etc/systemd/system/agent-supervisor.service.d/10-control-plane-token.conf
# The release key, when pinned on the host (cloud-init writes it); and its signatures' namespace
# (scripts/sign-release.sh signs in the same one) and the name it is given in allowed_signers.
KEY_FILE=/etc/agent-supervisor/release-signing-key.pub
SIG_NAMESPACE=agent-supervisor-release
SIG_IDENTITY=agent-supervisor-release
ENV_KEYS="CONTROL_PLANE_URL CONTROL_PLANE_TOKEN RUNTIME_ID ACCOUNT_ID MOONSHOT_API_KEY OPENAI_API_KEY OPENAI_COMPAT_BASE_URL OPENAI_COMPAT_API_KEY OPENAI_COMPAT_MODEL"

BASE_URL=${AGENT_SUPERVISOR_BASE_URL:-}
ROOT=${DESTDIR:-}
SIGNING_KEY=${AGENT_SUPERVISOR_SIGNING_KEY:-}
SIGNING_KEY_FROM=AGENT_SUPERVISOR_SIGNING_KEY
SKIP_OPENCLAW=0
UNINSTALL=0
PURGE=0
STAGE_DIR=     # where the download is checked and run, next to its target (see stage_dir)
STAGE_PARENT=
STAGE_MADE=    # the topmost directory made for STAGE_DIR, removed again at exit if left empty

say() { printf '%s\n' "agent-supervisor install: $*"; }
warn() { printf '%s\n' "agent-supervisor install: warning: $*" >&2; }
die() {
  printf '%s\n' "agent-supervisor install: error: $*" >&2
  exit 1
}

usage() {
  cat <<'USAGE'
Usage: install.sh [options]

  --base-url URL    where agent-supervisor-linux-<arch> and SHA256SUMS are downloaded from
                    (default: $AGENT_SUPERVISOR_BASE_URL; https, or http to loopback only)
  --root DIR        install under a scratch root DIR (default: $DESTDIR); systemctl is skipped
  --skip-openclaw   do not run 'agent-supervisor openclaw install'
  --signing-key KEY pin the release key, an OpenSSH public key line ("ssh-ed25519 AAAA..."):
                    SHA256SUMS must carry a good signature by it, SHA256SUMS.sig
                    (default: $AGENT_SUPERVISOR_SIGNING_KEY, else the host's
                    /etc/agent-supervisor/release-signing-key.pub if present; none: checksum only)
  --uninstall       stop and disable the service, remove the binary and the unit
                    (the data and config directories and the user are kept)
  --purge           with --uninstall: also remove the data and config directories and the user
  -h, --help        this text
USAGE
}

parse_args() {
  while [ $# -gt 0 ]; do
    case $1 in
      --base-url)
        [ $# -ge 2 ] || die "--base-url needs a value"
        BASE_URL=$2
        shift 2
        ;;
      --base-url=*) BASE_URL=${1#--base-url=}; shift ;;
      --root)
        [ $# -ge 2 ] || die "--root needs a value"
        ROOT=$2
        shift 2
        ;;
      --root=*) ROOT=${1#--root=}; shift ;;
      --skip-openclaw) SKIP_OPENCLAW=1; shift ;;
      --signing-key)
        [ $# -ge 2 ] || die "--signing-key needs a value"
        SIGNING_KEY=$2 SIGNING_KEY_FROM=--signing-key
        shift 2
        ;;
      --signing-key=*) SIGNING_KEY=${1#--signing-key=} SIGNING_KEY_FROM=--signing-key; shift ;;
      --uninstall) UNINSTALL=1; shift ;;
      --purge) PURGE=1; shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
  done

  [ "$PURGE" = 0 ] || [ "$UNINSTALL" = 1 ] || die "--purge only goes with --uninstall"
}

cleanup() {
  if [ -n "$STAGE_DIR" ]; then rm -rf "$STAGE_DIR"; fi
  if [ -n "$STAGE_MADE" ]; then
    d=$STAGE_PARENT
    while rmdir "$d" 2>/dev/null && [ "$d" != "$STAGE_MADE" ]; do d=$(dirname -- "$d"); done
  fi
}

# --- where ------------------------------------------------------------------------------------

find_root() {
  IS_ROOT=0
  if [ "$(id -u)" = 0 ]; then IS_ROOT=1; fi

  if [ -n "$ROOT" ]; then
    mkdir -p "$ROOT" || die "cannot create the root directory $ROOT"
    ROOT=$(CDPATH='' cd -- "$ROOT" && pwd) || die "cannot enter the root directory $ROOT"
    if [ "$ROOT" = / ]; then ROOT=; fi
  fi
  if [ -z "$ROOT" ] && [ "$IS_ROOT" = 0 ]; then
    die "run as root (sudo sh install.sh ...), or install under a scratch root with --root DIR"
  fi

  # systemctl only on the live system, and only when systemd runs it.
  USE_SYSTEMD=0
  if [ -n "$ROOT" ]; then
    SYSTEMD_SKIP="installing under $ROOT"
  elif [ ! -d /run/systemd/system ] || ! command -v systemctl >/dev/null 2>&1; then
    SYSTEMD_SKIP="systemd is not running on this host"
  else
    USE_SYSTEMD=1
    SYSTEMD_SKIP=
  fi
}

# --- uninstall --------------------------------------------------------------------------------

user_in_root() {
  # user_in_root [USER]: uid:gid of USER (default the service user) in $ROOT/etc/passwd, empty if absent
  awk -F: -v u="${1:-$SERVICE_USER}" '$1 == u { print $3 ":" $4 }' "$ROOT/etc/passwd" 2>/dev/null || true
}

uninstall() {
  if [ "$USE_SYSTEMD" = 1 ]; then
    systemctl disable --now "$NAME.service" 2>/dev/null || warn "could not stop/disable $NAME.service (not installed?)"
  else
    say "skipping systemctl stop/disable ($SYSTEMD_SKIP)"
  fi
  rm -f "$ROOT$UNIT_PATH" "$ROOT$BIN_PATH" "$ROOT$TOKEN_DROP_IN"
  rmdir "$ROOT${TOKEN_DROP_IN%/*}" 2>/dev/null || true
  if [ "$USE_SYSTEMD" = 1 ]; then
    systemctl daemon-reload || warn "systemctl daemon-reload failed"
    systemctl reset-failed "$NAME.service" 2>/dev/null || true
  fi
  say "removed $ROOT$BIN_PATH and $ROOT$UNIT_PATH"
  if [ "$PURGE" = 1 ]; then
    rm -rf "$ROOT$DATA_DIR" "$ROOT$CONFIG_DIR"
    say "removed $ROOT$DATA_DIR and $ROOT$CONFIG_DIR"
    for u in "$SERVICE_USER" "$GATEWAY_USER"; do
      if [ -z "$ROOT" ]; then
        if getent passwd "$u" >/dev/null 2>&1; then
          userdel "$u" || warn "userdel $u failed"
          say "removed the user $u"
        fi
      elif [ "$IS_ROOT" = 1 ] && [ -n "$(user_in_root "$u")" ]; then
        userdel --root "$ROOT" "$u" || warn "userdel --root $ROOT $u failed"
        say "removed the user $u from $ROOT/etc/passwd"
      fi
    done
  else
    say "kept $ROOT$DATA_DIR (data), $ROOT$CONFIG_DIR (config) and the users $SERVICE_USER and $GATEWAY_USER; add --purge to remove them"
  fi
}

# --- platform ---------------------------------------------------------------------------------

check_platform() {
  os=$(uname -s)
  machine=$(uname -m)
  [ "$os" = Linux ] || die "unsupported operating system: $os (agent-supervisor is built for Linux x86_64 only)"
  case $machine in
    x86_64 | amd64) ARCH=x64 ;;
    aarch64 | arm64) die "unsupported architecture: $machine (only Linux x86_64 is built today; arm64 is not yet)" ;;
    *) die "unsupported architecture: $machine (agent-supervisor is built for Linux x86_64 only)" ;;
  esac
  ASSET="agent-supervisor-linux-$ARCH"
}

# --- download and verify ------------------------------------------------------------------------

# >>> url_ok: the one copy of this rule; cloud-init/render.sh reads these lines from this file.
# url_ok URL: true if URL is https://HOST[...], or plain http:// whose host is exactly 127.0.0.1,
# localhost or [::1] with an optional numeric port. The authority (from :// to the first /, ?
# or #) may not hold userinfo: in http://localhost:@evil.example/ the host is evil.example.
url_ok() {
  case $1 in
    https://*) url_rest=${1#https://} url_loopback_only=0 ;;
    http://*) url_rest=${1#http://} url_loopback_only=1 ;;
    *) return 1 ;;
  esac
  url_authority=${url_rest%%[/?#]*}
  case $url_authority in
    '' | *@* | :*) return 1 ;;
  esac
  [ "$url_loopback_only" = 1 ] || return 0
  for url_host in 127.0.0.1 localhost '[::1]'; do
    case $url_authority in
      "$url_host") return 0 ;;
      "$url_host":*)
        case ${url_authority#"$url_host":} in
          '' | *[!0-9]*) return 1 ;;
          *) return 0 ;;
        esac
        ;;
    esac
  done
  return 1
}
# <<< url_ok

fetch() {
  # fetch URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 --connect-timeout 20 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -T 60 -t 3 -O "$2" "$1"
  else
    die "neither curl nor wget is installed"
  fi
}

sha256_check() {
  # sha256_check LINE (in the current directory)
  if command -v sha256sum >/dev/null 2>&1; then
    printf '%s\n' "$1" | sha256sum -c - >/dev/null 2>&1
  elif command -v shasum >/dev/null 2>&1; then
    printf '%s\n' "$1" | shasum -a 256 -c - >/dev/null 2>&1
  else
    die "neither sha256sum nor shasum is installed"
  fi
}

# The download is checked, then run (--version), before it is installed. Not in $TMPDIR: /tmp is
# often mounted noexec. In a directory next to the binary's target instead, which must allow
# running it anyway and is on the same file system, so that installing it is a rename.
stage_dir() {
  STAGE_PARENT=$ROOT${BIN_PATH%/*}
  d=$STAGE_PARENT
  while [ ! -d "$d" ]; do
    STAGE_MADE=$d
    d=$(dirname -- "$d")
  done
  mkdir -p "$STAGE_PARENT" || die "cannot create $STAGE_PARENT"
  STAGE_DIR=$(mktemp -d "$STAGE_PARENT/.agent-supervisor-install.XXXXXX") ||
    die "cannot create a staging directory in $STAGE_PARENT"
}

# >>> signing_key_ok: the one copy of this rule; cloud-init/render.sh reads these lines from this file.
# signing_key_ok KEY: true if KEY is one OpenSSH public key line, "TYPE BASE64 [COMMENT]", of a
# type ssh-keygen -Y signs with; sets signing_key to "TYPE BASE64" (the comment dropped).
signing_key_ok() {
  case $1 in
    *[![:print:]]*) return 1 ;;
  esac
  sk_type=${1%% *}
  sk_rest=${1#"$sk_type"}
  sk_blob=${sk_rest# }
  sk_blob=${sk_blob%% *}
  case $sk_type in
    ssh-ed25519 | sk-ssh-ed25519@openssh.com | ecdsa-sha2-nistp256 | ecdsa-sha2-nistp384 | \
      ecdsa-sha2-nistp521 | sk-ecdsa-sha2-nistp256@openssh.com | ssh-rsa) ;;
    *) return 1 ;;
  esac
  case $sk_blob in
    '' | *[!A-Za-z0-9+/=]*) return 1 ;;
  esac
  signing_key="$sk_type $sk_blob"
}
# <<< signing_key_ok

# The pinned release key, if any: --signing-key, $AGENT_SUPERVISOR_SIGNING_KEY, else the host's
# $KEY_FILE. Checked before anything is downloaded.
pinned_key() {
  if [ -z "$SIGNING_KEY" ] && [ -f "$ROOT$KEY_FILE" ]; then
    SIGNING_KEY=$(cat "$ROOT$KEY_FILE") || die "cannot read $ROOT$KEY_FILE"
    SIGNING_KEY_FROM=$ROOT$KEY_FILE
    [ -n "$SIGNING_KEY" ] || die "$ROOT$KEY_FILE is empty: put the release's public key in it, or remove it"
  fi
  [ -n "$SIGNING_KEY" ] || return 0
  signing_key_ok "$SIGNING_KEY" ||
    die "the pinned release key ($SIGNING_KEY_FROM) is not an OpenSSH public key line (\"ssh-ed25519 AAAA... [comment]\")"
  command -v ssh-keygen >/dev/null 2>&1 ||
    die "a release key is pinned ($SIGNING_KEY_FROM) but ssh-keygen is not installed (Debian: apt-get install openssh-client)"
}

# verify_signature: SHA256SUMS.sig is a good signature of SHA256SUMS by the pinned key.
verify_signature() {
  fetch "$BASE_URL/SHA256SUMS.sig" "$STAGE_DIR/SHA256SUMS.sig" ||
    die "a release key is pinned ($SIGNING_KEY_FROM) but $BASE_URL/SHA256SUMS.sig could not be downloaded: refusing to install"
  printf '%s namespaces="%s" %s\n' "$SIG_IDENTITY" "$SIG_NAMESPACE" "$signing_key" >"$STAGE_DIR/allowed_signers"
  sig_out=$(ssh-keygen -Y verify -f "$STAGE_DIR/allowed_signers" -I "$SIG_IDENTITY" -n "$SIG_NAMESPACE" \
    -s "$STAGE_DIR/SHA256SUMS.sig" <"$STAGE_DIR/SHA256SUMS" 2>&1) ||
    die "the signature of SHA256SUMS does not verify with the pinned key ($SIGNING_KEY_FROM): refusing to install" \
      "(ssh-keygen: $(printf '%s\n' "$sig_out" | tail -n 1))"
  say "signature of SHA256SUMS ok (release key pinned by $SIGNING_KEY_FROM)"
}

download_and_verify() {
  [ -n "$BASE_URL" ] || die "no download location: set AGENT_SUPERVISOR_BASE_URL or pass --base-url URL"
  BASE_URL=${BASE_URL%/}

  url_ok "$BASE_URL" || die "the base URL must be https:// (plain http only to loopback): $BASE_URL"
  pinned_key

  stage_dir
  say "downloading $BASE_URL/$ASSET"
  fetch "$BASE_URL/SHA256SUMS" "$STAGE_DIR/SHA256SUMS" || die "download failed: $BASE_URL/SHA256SUMS"
  if [ -n "$SIGNING_KEY" ]; then verify_signature; fi
  fetch "$BASE_URL/$ASSET" "$STAGE_DIR/$ASSET" || die "download failed: $BASE_URL/$ASSET"

  # The one line naming the asset ("HASH  NAME" or "HASH *NAME").
  sum_line=$(grep -E "^[0-9a-fA-F]{64} [ *]$ASSET\$" "$STAGE_DIR/SHA256SUMS" || true)
  [ -n "$sum_line" ] || die "SHA256SUMS has no line for $ASSET"
  [ "$(printf '%s\n' "$sum_line" | wc -l)" -eq 1 ] || die "SHA256SUMS has more than one line for $ASSET"
  (cd "$STAGE_DIR" && sha256_check "$sum_line") || die "checksum mismatch for $ASSET: refusing to install it"
  say "checksum ok"
  chmod 0755 "$STAGE_DIR/$ASSET"
  new_version=$("$STAGE_DIR/$ASSET" --version 2>/dev/null) || die "the downloaded $ASSET does not run on this host"
}

# --- env file template --------------------------------------------------------------------------

env_value_ok() {
  case $1 in
    *[[:space:]\"\'\\\$\#]*) return 1 ;;
    *) return 0 ;;
  esac
}

write_env_template() {
  cat <<'HEAD'
# agent-supervisor settings (KEY=value lines; see 'agent-supervisor config print --reference').
# Written once by install.sh; install.sh never overwrites this file. After a change:
#   agent-supervisor config check && systemctl restart agent-supervisor
# Keep it 0640 root:agent-supervisor: it holds secrets.

HEAD
  for key in $ENV_KEYS; do
    eval "value=\${$key:-}"
    if [ "$key" = CONTROL_PLANE_TOKEN ]; then
      # Not the token itself: install_env_file writes it to its own file (the credential).
      if [ -z "$value" ]; then printf '#'; fi
      printf 'CONTROL_PLANE_TOKEN_FILE=%s\n' "$TOKEN_FILE"
    elif [ -n "$value" ]; then
      printf '%s=%s\n' "$key" "$value"
    else
      printf '#%s=\n' "$key"
    fi
  done
  cat <<'TAIL'

# Also commonly set (defaults shown):
#AGENT_SUPERVISOR_HTTP_PORT=18790
#OPENCLAW_VERSION=2026.9.6
#NPM_REGISTRY=https://registry.npmjs.org
#MEMORY_LIMIT_PERCENT=75
#AGENT_SUPERVISOR_LOG_LEVEL=info
TAIL
}

check_env_values() {
  for key in $ENV_KEYS; do
    eval "value=\${$key:-}"
    env_value_ok "$value" || die "$key contains whitespace, a quote, a backslash, \$ or #; write the env file by hand instead"
  done
}

# --- user, directories -------------------------------------------------------------------------

set_owner() {
  # set_owner OWNER PATH...: chown when owners can be set
  if [ -n "$OWNER" ]; then
    o=$1
    shift
    chown "$o" "$@"
  fi
}

# make_user NAME HOME COMMENT: the system user NAME with its own group, on this host or in $ROOT
# (the caller has checked that users can be made there).
make_user() {
  if [ -z "$ROOT" ]; then
    getent passwd "$1" >/dev/null 2>&1 && return 0
    useradd --system --user-group --home-dir "$2" --no-create-home --shell "$NOLOGIN" --comment "$3" "$1" ||
      die "useradd $1 failed"
    say "created the system user $1"
  elif [ -z "$(user_in_root "$1")" ]; then
    useradd --root "$ROOT" --system --user-group --home-dir "$2" --no-create-home --shell "$NOLOGIN" \
      --comment "$3" "$1" 2>/dev/null || die "useradd --root $ROOT $1 failed"
    say "created the system user $1 in $ROOT/etc/passwd"
  fi
}

make_user_and_dirs() {
  NOLOGIN=/usr/sbin/nologin
  [ -n "$ROOT" ] || [ -x "$NOLOGIN" ] || NOLOGIN=/sbin/nologin
  [ -n "$ROOT" ] || [ -x "$NOLOGIN" ] || NOLOGIN=/bin/false

  OWNER=  # uid:gid of the service user, empty when owners cannot be set
  if [ -z "$ROOT" ] || { [ "$IS_ROOT" = 1 ] && [ -f "$ROOT/etc/passwd" ] && [ -f "$ROOT/etc/group" ]; }; then
    make_user "$SERVICE_USER" "$DATA_DIR" "agent-supervisor daemon"
    # The gateway's user; its home is made by the daemon, inside the tree it shares with it.
    make_user "$GATEWAY_USER" "$DATA_DIR/gateway/home" "agent-supervisor gateway"
    # The daemon reaches the gateway's tree (2770) through the gateway's group. System groups are
    # in /etc/group, so one check serves the host and a scratch root.
    if ! awk -F: -v g="$GATEWAY_USER" -v u="$SERVICE_USER" \
      '$1 == g { n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) found = 1 } END { exit !found }' "$ROOT/etc/group"; then
      if [ -n "$ROOT" ]; then set -- --root "$ROOT"; else set --; fi
      usermod "$@" -a -G "$GATEWAY_USER" "$SERVICE_USER" || die "usermod -a -G $GATEWAY_USER $SERVICE_USER failed"
      say "added $SERVICE_USER to the group $GATEWAY_USER"
    fi
    if [ -z "$ROOT" ]; then OWNER="$(id -u "$SERVICE_USER"):$(id -g "$SERVICE_USER")"; else OWNER=$(user_in_root); fi
  else
    say "not creating the users $SERVICE_USER and $GATEWAY_USER and not setting owners under $ROOT (needs root and $ROOT/etc/passwd);" \
      "intended: $DATA_DIR $SERVICE_USER:$SERVICE_USER 0711, $CONFIG_DIR and $ENV_FILE root:$SERVICE_USER 0750/0640"
  fi
  GID=${OWNER#*:}

  mkdir -p "$ROOT$DATA_DIR" "$ROOT$CONFIG_DIR" "$ROOT/usr/local/bin" "$ROOT/etc/systemd/system"
  # 0711: the gateway's user passes through to gateway/ and runtime/; all else in it is private.
  chmod 0711 "$ROOT$DATA_DIR"
  set_owner "$OWNER" "$ROOT$DATA_DIR"
  chmod 0750 "$ROOT$CONFIG_DIR"
  set_owner "0:$GID" "$ROOT$CONFIG_DIR"
}

# --- binary (atomic) -----------------------------------------------------------------------------

install_binary() {
  mv -f "$STAGE_DIR/$ASSET" "$ROOT$BIN_PATH"
  say "installed $ROOT$BIN_PATH ($new_version)"
}

# --- env file (only if absent) --------------------------------------------------------------------

install_env_file() {
  if [ -e "$ROOT$ENV_FILE" ]; then
    # Content kept as is. Only its access is fixed when needed: the service user must be able to
    # read it ('openclaw install', 'config check'); e.g. cloud-init writes it root:root before the
    # user exists. Nobody else may.
    if [ -n "$OWNER" ] && [ "$(stat -c %g "$ROOT$ENV_FILE")" != "$GID" ]; then
      chgrp "$GID" "$ROOT$ENV_FILE"
      say "set the group of $ROOT$ENV_FILE to $SERVICE_USER"
    fi
    chmod g+r,g-wx,o-rwx "$ROOT$ENV_FILE"
    say "kept the existing $ROOT$ENV_FILE"
  else
    if [ -n "${CONTROL_PLANE_TOKEN:-}" ]; then
      if [ -e "$ROOT$TOKEN_FILE" ]; then
        say "kept the existing $ROOT$TOKEN_FILE (CONTROL_PLANE_TOKEN from the environment not used)"
      else
        # printf is a shell builtin: the token is in no process's arguments.
        printf '%s\n' "$CONTROL_PLANE_TOKEN" | write_private "$ROOT$TOKEN_FILE" 0640
        say "wrote the control-plane token to $ROOT$TOKEN_FILE"
      fi
    fi
    write_env_template | write_private "$ROOT$ENV_FILE" 0640
    say "wrote $ROOT$ENV_FILE"
  fi
}

# write_private FILE MODE [OWNER]: stdin to FILE, MODE, OWNER (default root:<service group>), by
# renaming a temp file that nobody else can read meanwhile, so that no reader sees half of it.
write_private() {
  tmp_file="$1.new.$$"
  (umask 077 && cat >"$tmp_file")
  chmod "$2" "$tmp_file"
  set_owner "${3:-0:$GID}" "$tmp_file"
  mv -f "$tmp_file" "$1"
}

# --- control-plane token (a systemd credential) ---------------------------------------------------

# An env file from before the credential: its CONTROL_PLANE_TOKEN moves to $TOKEN_FILE, unless that
# holds another token (then both stay: the operator decides), and its line becomes
# CONTROL_PLANE_TOKEN_FILE=. Every other line, the owner and the mode are kept. Never printed.
migrate_env_token() {
  [ -f "$ROOT$ENV_FILE" ] || return 0
  # The last assignment wins, as in EnvironmentFile=; quotes around the value are not part of it.
  token=$(sed -n 's/^[[:space:]]*CONTROL_PLANE_TOKEN=[[:space:]]*//p' "$ROOT$ENV_FILE" | tail -n 1 |
    sed 's/[[:space:]]*$//; s/^"\(.*\)"$/\1/; s/^'"'"'\(.*\)'"'"'$/\1/')
  [ -n "$token" ] || return 0
  if [ ! -e "$ROOT$TOKEN_FILE" ]; then
    printf '%s\n' "$token" | write_private "$ROOT$TOKEN_FILE" 0640
  elif [ "$(cat "$ROOT$TOKEN_FILE")" != "$token" ]; then
    warn "CONTROL_PLANE_TOKEN in $ROOT$ENV_FILE differs from the token in $ROOT$TOKEN_FILE: left both as they are" \
      "(the service uses the file's); remove the wrong one"
    return 0
  fi
  awk -v line="CONTROL_PLANE_TOKEN_FILE=$TOKEN_FILE" '
    /^[ \t]*CONTROL_PLANE_TOKEN(_FILE)?=/ { if (!done) print line; done = 1; next }
    { print }' "$ROOT$ENV_FILE" |
    write_private "$ROOT$ENV_FILE" "$(stat -c %a "$ROOT$ENV_FILE")" "$(stat -c %u:%g "$ROOT$ENV_FILE")"
  say "moved CONTROL_PLANE_TOKEN from $ROOT$ENV_FILE to $ROOT$TOKEN_FILE (the systemd credential control-plane-token)"
}

# The token file, when there is one (written above, moved from the env file, or by cloud-init):
# root:<service group> 0640, since commands run outside the unit read it via
# CONTROL_PLANE_TOKEN_FILE ('config check', 'doctor'), and the drop-in that loads it as the credential.
install_token() {
  migrate_env_token
  if [ -e "$ROOT$TOKEN_FILE" ]; then
    chmod 0640 "$ROOT$TOKEN_FILE"
    set_owner "0:$GID" "$ROOT$TOKEN_FILE"
  fi
  # No token (a standalone host; cloud-init writes an empty file then): no credential, since the
  # unit would not start with a missing one and the daemon refuses an empty one.
  if [ ! -e "$ROOT$TOKEN_FILE" ] || ! grep -q '[^[:space:]]' "$ROOT$TOKEN_FILE"; then
    rm -f "$ROOT$TOKEN_DROP_IN"
    return 0
  fi
  mkdir -p "$ROOT${TOKEN_DROP_IN%/*}"
  printf '%s\n' "# Written by install.sh on every run: the control-plane token as a systemd credential." \
    "[Service]" "LoadCredential=control-plane-token:$TOKEN_FILE" | write_private "$ROOT$TOKEN_DROP_IN" 0644 0:0
  say "installed $ROOT$TOKEN_DROP_IN (the credential control-plane-token)"
}

# --- systemd unit ----------------------------------------------------------------------------------

write_unit() {
  # A copy of systemd/agent-supervisor.service (test/install checks that they are equal).
  cat <<'UNIT'
# agent-supervisor: per-host keeper of an OpenClaw gateway.
# Installed by install.sh to /etc/systemd/system/agent-supervisor.service (refreshed on every run).
# Local changes belong in a drop-in: systemctl edit agent-supervisor
# Settings and the reasoning for each hardening exception: docs/operations.md
[Unit]
Description=agent-supervisor (OpenClaw gateway keeper)
Wants=network-online.target
After=network-online.target
# Never give up restarting: the daemon has its own backoff and crash-loop breaker for the gateway.
StartLimitIntervalSec=0

[Service]
# READY=1 once the daemon serves its local API (seconds after start); the gateway's state, however
# slow or broken its start, is in STATUS=, never in the unit's activation. READY=, STATUS= and
# WATCHDOG=1 are sent by the systemd-notify child of the daemon, hence NotifyAccess=all.
Type=notify
NotifyAccess=all
WatchdogSec=30s
# The daemon's own start: settings, SQLite, the local API (the gateway starts after READY=1).
TimeoutStartSec=90s
# Drain (DRAIN_TIMEOUT_MS 30 s) + gateway SIGTERM grace (GATEWAY_STOP_GRACE_MS 15 s) + margin.
TimeoutStopSec=60s
# SIGTERM to the daemon only (it drains, then stops the gateway's process group itself);
# whatever is left in the cgroup gets SIGKILL when the daemon has exited or at TimeoutStopSec.
KillMode=mixed
KillSignal=SIGTERM
Restart=always
RestartSec=5s
# A gateway killed by the kernel OOM killer is restarted by the daemon, not by stopping the unit.
OOMPolicy=continue

User=agent-supervisor
Group=agent-supervisor
# The gateway runs as its own user, agent-supervisor-gw, so that an agent steered by what end users
# write cannot read the daemon's credentials, tokens or database (docs/agent-boundary.md). The
# daemon shares the gateway's tree (<data>/gateway, 2770) with it through that user's group.
SupplementaryGroups=agent-supervisor-gw
Environment=GATEWAY_USER=agent-supervisor-gw
EnvironmentFile=-/etc/agent-supervisor/agent-supervisor.env
ExecStart=/usr/local/bin/agent-supervisor run
WorkingDirectory=/var/lib/agent-supervisor
StateDirectory=agent-supervisor
# 0711: the gateway's user must pass through to gateway/ and the read-only runtime/; everything
# of the daemon's in it is 0600/0700 or group agent-supervisor.
StateDirectoryMode=0711
# Files the daemon writes into the shared gateway tree must be readable by the gateway's group;
# nothing is ever world-accessible.
UMask=0007
LimitNOFILE=65536

# Hardening (systemd-analyze security: see docs/operations.md for the score and the exceptions).
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
ReadWritePaths=/var/lib/agent-supervisor
# A private /tmp: the gateway's /tmp/openclaw* stay inside the unit and vanish with it.
PrivateTmp=true
PrivateDevices=true
DevicePolicy=closed
PrivateMounts=true
ProtectKernelTunables=true
ProtectKernelModules=true
ProtectKernelLogs=true
ProtectControlGroups=true
ProtectClock=true
ProtectHostname=true
# Not invisible (hidepid): the memory watchdog reads the gateway's /proc/<pid>, another user's. The
# gateway still cannot read the daemon's environ or memory: that needs ptrace access to its uid.
ProtectProc=default
RestrictNamespaces=true
RestrictRealtime=true
LockPersonality=true
RemoveIPC=true
# The daemon's only privileges: SETUID/SETGID to start the gateway as its user (through setpriv,
# which drops every capability before the gateway runs), KILL to signal the gateway's process group.
CapabilityBoundingSet=CAP_SETUID CAP_SETGID CAP_KILL
AmbientCapabilities=CAP_SETUID CAP_SETGID CAP_KILL
# Model providers and the control plane (IPv4/IPv6), the loopback gateway, systemd-notify
# (AF_UNIX) and interface enumeration (AF_NETLINK).
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
# The cloud metadata service: it serves the cloud-init user data, which may hold the control-plane
# token. Nothing in the unit needs it.
IPAddressDeny=169.254.169.254 fd00:ec2::254
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged
# Added back after ~@privileged (later lines edit the allow list in order): setpriv's setresuid,
# setresgid, setgroups and capset, to start the gateway as its user with no capability; and the
# chown family, for the daemon to give its gateway tree to the gateway's group (without CAP_CHOWN,
# chown can only change the group of the caller's own files to one of its groups).
SystemCallFilter=@setuid capset
SystemCallFilter=@chown
SystemCallErrorNumber=EPERM
# Not set, on purpose: RestrictSUIDSGID (its seccomp filter makes openat2() fail with ENOSYS, and
# OpenClaw takes its state lock with openat2(RESOLVE_BENEATH): the gateway exits 78 or crash-loops),
# MemoryDenyWriteExecute (V8's JIT needs W+X pages), PrivateNetwork and an IPAddressAllow= list
# (providers are on the internet), ProcSubset=pid (memory sampling reads /proc/meminfo),
# PrivateUsers (its user namespace maps only root and the service user: switching to the gateway's
# user fails with EINVAL).

[Install]
WantedBy=multi-user.target
UNIT
}

install_unit() {
  tmp_unit="$ROOT$UNIT_PATH.new.$$"
  write_unit >"$tmp_unit"
  chmod 0644 "$tmp_unit"
  mv -f "$tmp_unit" "$ROOT$UNIT_PATH"
  say "installed $ROOT$UNIT_PATH"

  if [ "$USE_SYSTEMD" = 1 ]; then
    systemctl daemon-reload || die "systemctl daemon-reload failed"
    systemctl enable "$NAME.service" || die "systemctl enable $NAME.service failed"
    say "enabled $NAME.service"
  else
    say "skipping systemctl daemon-reload and enable ($SYSTEMD_SKIP)"
  fi
}

# --- commands as the service user ------------------------------------------------------------------

as_service_user() {
  if [ -n "$ROOT" ]; then
    # The scratch root's user is not known to this host: run as the caller, owners fixed below.
    "$@"
  elif [ "$(id -u)" = "${OWNER%%:*}" ]; then
    "$@"
  elif command -v setpriv >/dev/null 2>&1; then
    HOME=$DATA_DIR setpriv --reuid="${OWNER%%:*}" --regid="$GID" --init-groups -- "$@"
  elif command -v runuser >/dev/null 2>&1; then
    HOME=$DATA_DIR runuser -u "$SERVICE_USER" -- "$@"
  else
    die "neither setpriv nor runuser is installed: cannot run $* as $SERVICE_USER"
  fi
}

install_openclaw() {
  # Settings for commands run under a scratch root: its env file and data directory.
  if [ -n "$ROOT" ]; then
    set -- --config "$ROOT$ENV_FILE"
  else
    set --
  fi

  if [ "$SKIP_OPENCLAW" = 1 ]; then
    say "skipping 'agent-supervisor openclaw install' (--skip-openclaw)"
  else
    say "installing the managed OpenClaw runtime (about 1-2 minutes; 'agent-supervisor openclaw install')"
    (cd "$ROOT$DATA_DIR" && AGENT_SUPERVISOR_DATA_DIR="$ROOT$DATA_DIR" as_service_user "$ROOT$BIN_PATH" "$@" openclaw install) ||
      die "'agent-supervisor openclaw install' failed; fix the cause and run this installer again"
    if [ -n "$ROOT" ] && [ -n "$OWNER" ]; then chown -R "$OWNER" "$ROOT$DATA_DIR"; fi
  fi
}

# --- the gateway's tree to the gateway's user -------------------------------------------------------

hand_over_gateway_tree() {
  # OpenClaw changes the modes of its own directories, which only their owner may do: the tree an
  # older daemon made (its user's) goes to the gateway's user, shared with the daemon through the
  # group (2770). Nothing is moved; on a tree already handed over it does nothing.
  if [ -z "$OWNER" ]; then
    say "not handing $DATA_DIR/gateway over to $GATEWAY_USER (owners cannot be set here)"
    return 0
  fi
  # The running gateway (of an older daemon, as the daemon's user) must not write into its tree
  # while it changes hands: its new files would stay the daemon's. Started again below.
  if [ "$USE_SYSTEMD" = 1 ] && [ -d "$DATA_DIR/gateway" ] && [ "$(stat -c %U "$DATA_DIR/gateway")" != "$GATEWAY_USER" ] &&
    systemctl is-active --quiet "$NAME.service"; then
    say "stopping $NAME.service to hand the gateway's tree over to $GATEWAY_USER (it is started again below)"
    systemctl stop "$NAME.service" || die "systemctl stop $NAME.service failed"
  fi
  if [ -n "$ROOT" ]; then set -- --passwd "$ROOT/etc/passwd"; else set --; fi
  (cd / && "$ROOT$BIN_PATH" gateway-user hand-over --user "$GATEWAY_USER" --data-dir "$ROOT$DATA_DIR" "$@") ||
    die "'agent-supervisor gateway-user hand-over' failed: the gateway stays held until its tree is $GATEWAY_USER's; fix the cause and run this installer again"
}

# --- start -------------------------------------------------------------------------------------------

start_service() {
  STARTED=0
  if [ "$USE_SYSTEMD" = 1 ]; then
    if (cd / && as_service_user "$BIN_PATH" config check >/dev/null 2>&1); then
      # --no-block: do not wait for READY=1 here (the daemon sends it once its local API serves).
      systemctl restart --no-block "$NAME.service" || die "systemctl restart $NAME.service failed"
      STARTED=1
      say "(re)started $NAME.service"
    else
      warn "'agent-supervisor config check' fails with $ENV_FILE: the service is enabled but not started"
    fi
  else
    say "skipping systemctl start ($SYSTEMD_SKIP)"
  fi
}

# --- next steps ----------------------------------------------------------------------------------------

next_steps() {
  cat <<EOF

agent-supervisor $new_version is installed.

Next steps:
  1. Settings: $ROOT$ENV_FILE (at least one model provider, or the control plane's
     CONTROL_PLANE_URL, RUNTIME_ID and ACCOUNT_ID, with the token in $ROOT$TOKEN_FILE;
     run this installer again after writing that file).
  2. Check them:  sudo -u $SERVICE_USER $BIN_PATH config check
EOF
  if [ "$STARTED" = 1 ]; then
    cat <<EOF
  3. Follow the start (the gateway can take a minute or two):
       systemctl status $NAME   journalctl -u $NAME -f   $BIN_PATH status
EOF
  else
    cat <<EOF
  3. Start it:  systemctl restart $NAME   then   systemctl status $NAME
EOF
  fi
  [ "$SKIP_OPENCLAW" = 0 ] || printf '%s\n' "  Before starting: sudo -u $SERVICE_USER $BIN_PATH openclaw install"
  printf '%s\n' "  Upgrade: run this installer again. Remove: install.sh --uninstall [--purge]."
}

# --- main ------------------------------------------------------------------------------------------

main() {
  parse_args "$@"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  find_root
  if [ "$UNINSTALL" = 1 ]; then
    uninstall
    exit 0
  fi
  check_platform
  download_and_verify
  check_env_values
  make_user_and_dirs
  install_binary
  install_env_file
  install_token
  install_unit
  install_openclaw
  hand_over_gateway_tree
  start_service
  next_steps
}

# The one line that runs anything. Above it are only definitions, so an install.sh cut off
# anywhere (curl | sh runs whatever has arrived) does nothing; the braces keep "main" alone from
# running: sh runs this line only once its closing brace has arrived.
{ main "$@"; }
