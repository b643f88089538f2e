#!/usr/bin/env bash
# talkgroups quick start: a private Prosody on 127.0.0.1 with two accounts
# (alice, bob) and a talkgroups component with one open group, "lobby".
#
#   bash contrib/quickstart.sh
#
# Everything lives in one directory: ./quickstart (or $TALKGROUPS_QS_DIR).
# Prosody runs in the background and is stopped when this script exits;
# talkgroups runs in the foreground. Ctrl-C stops both.
#
# Environment:
#   TALKGROUPS_QS_DIR  directory for configs, data and logs (default ./quickstart)
#   TALKGROUPS_BIN     a built talkgroups binary to run instead of `cargo run --release`
#   TALKGROUPS_QS_DEBUG=1  also log every stanza of the client sessions, in
#                      full, to prosody-debug.log
#                      (contrib/prosody/mod_talkgroups_stanza_log.lua; holds
#                      message bodies; for looking at what clients send)
#
# Needs Prosody. If `prosody` is not installed, the script installs it with
# apt-get (Debian/Ubuntu), which needs root (it uses sudo when not root).
# It also needs openssl, installed the same way when missing, to make a
# self-signed certificate for "localhost" (kept in the directory's certs/).
# Nothing outside the directory is touched apart from those package installs.
# Prosody offers STARTTLS with that certificate but does not require it, and
# allows plain passwords without TLS: loopback use only.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QS_DIR="${TALKGROUPS_QS_DIR:-./quickstart}"
COMPONENT_JID="groups.localhost"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'quickstart: %s\n' "$*" >&2; exit 1; }

# --- Packages: Prosody and openssl ---------------------------------------------
# apt_install PACKAGE WHY: install one Debian package, as root or with sudo.
apt_install() {
    local pkg=$1 why=$2
    command -v apt-get >/dev/null 2>&1 \
        || die "$why is not installed and apt-get is not available: install it yourself, then run this again."
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
        say "$why is not installed; installing it with apt-get needs root, so sudo will ask for your password."
    else
        die "$why is not installed. Installing it needs root: run 'apt-get install $pkg' as root (or run this script as root)."
    fi
    say "Installing $why (apt-get install $pkg)"
    if [ -z "${APT_UPDATED:-}" ]; then
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
}

if ! command -v prosody >/dev/null 2>&1 || ! command -v prosodyctl >/dev/null 2>&1; then
    apt_install prosody "Prosody (0.12 or later)"
    say "Note: the Debian package may also have enabled the system-wide Prosody service;"
    say "this script does not use it ('systemctl disable --now prosody' if you do not want it)."
fi
# openssl makes the self-signed certificate Prosody offers with STARTTLS.
command -v openssl >/dev/null 2>&1 || apt_install openssl "openssl"

mkdir -p "$QS_DIR"
QS_DIR="$(cd "$QS_DIR" && pwd)"
chmod 700 "$QS_DIR"
mkdir -p "$QS_DIR/prosody-data" "$QS_DIR/certs"
if [ -f "$QS_DIR/prosody.pid" ] && old_pid=$(cat "$QS_DIR/prosody.pid" 2>/dev/null) \
    && [ -n "$old_pid" ] && kill -0 "$old_pid" 2>/dev/null; then
    die "a Prosody from an earlier run is still running (pid $old_pid, $QS_DIR/prosody.pid); stop it first."
fi

# --- Free ports --------------------------------------------------------------
# A port is taken when something accepts a connection on 127.0.0.1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() { # preferred port, or a free one
    local want=$1 p
    if ! port_in_use "$want"; then echo "$want"; return; fi
    if command -v python3 >/dev/null 2>&1; then
        p=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null) \
            && [ -n "$p" ] && { echo "$p"; return; }
    fi
    for ((p = want + 10000; p < want + 10100; p++)); do
        if ! port_in_use "$p"; then echo "$p"; return; fi
    done
    die "no free port found near $want"
}

C2S_PORT=$(pick_port 5222)
COMPONENT_PORT=$(pick_port 5347)
[ "$C2S_PORT" != "$COMPONENT_PORT" ] || COMPONENT_PORT=$(pick_port $((C2S_PORT + 1)))
HTTP_PORT=$(pick_port 8470)
HTTPS_PORT=$(pick_port 5281)

# --- Secrets (kept across runs, so the database and accounts stay usable) ----
rand() { LC_ALL=C tr -dc 'a-zA-Z0-9' </dev/urandom | head -c "$1" || true; }
SECRETS="$QS_DIR/secrets.env"
if [ ! -f "$SECRETS" ]; then
    (umask 077; {
        echo "COMPONENT_SECRET=$(rand 32)"
        echo "ALICE_PASSWORD=alice-$(rand 8)"
        echo "BOB_PASSWORD=bob-$(rand 8)"
    } >"$SECRETS")
fi
# shellcheck disable=SC1090
. "$SECRETS"

# --- TLS certificate (kept across runs, so a client trusts it only once) ------
# Self-signed, for "localhost". Prosody offers it with STARTTLS on the client
# port; TLS stays optional, so clients with TLS disabled still log in.
CERT="$QS_DIR/certs/localhost.crt"
KEY="$QS_DIR/certs/localhost.key"
if [ ! -s "$CERT" ] || [ ! -s "$KEY" ] \
    || ! openssl x509 -in "$CERT" -noout -checkend 86400 >/dev/null 2>&1; then
    say "Generating a self-signed certificate for localhost ($CERT)"
    (umask 077; openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost" \
        -addext "basicConstraints=critical,CA:FALSE" \
        -addext "keyUsage=critical,digitalSignature,keyEncipherment" \
        -addext "extendedKeyUsage=serverAuth" \
        -keyout "$KEY" -out "$CERT" >/dev/null 2>&1) \
        || die "openssl could not generate a certificate in $QS_DIR/certs"
    chmod 644 "$CERT"
fi
CERT_SHA256=$(openssl x509 -in "$CERT" -noout -fingerprint -sha256 | sed 's/^[^=]*=//')
CERT_SHA1=$(openssl x509 -in "$CERT" -noout -fingerprint -sha1 | sed 's/^[^=]*=//')

# Quote a string for Lua and TOML basic strings (both accept \\ and \").
q() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }

# --- Prosody config ----------------------------------------------------------
PROSODY_CFG="$QS_DIR/prosody.cfg.lua"
{
    echo "-- Written by contrib/quickstart.sh; rewritten on every run."
    [ "$(id -u)" -eq 0 ] && echo "run_as_root = true"
    cat <<EOF
data_path = $(q "$QS_DIR/prosody-data")
pidfile = $(q "$QS_DIR/prosody.pid")
admin_socket = $(q "$QS_DIR/prosody.sock")
certificates = $(q "$QS_DIR/certs")
ssl = { certificate = $(q "$CERT"), key = $(q "$KEY") }
log = { info = $(q "$QS_DIR/prosody.log")$( [ -z "${TALKGROUPS_QS_DEBUG:-}" ] || printf '; debug = %s' "$(q "$QS_DIR/prosody-debug.log")") }

interfaces = { "127.0.0.1" }
c2s_ports = { $C2S_PORT }
component_ports = { $COMPONENT_PORT }
component_interface = "127.0.0.1"
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { $HTTPS_PORT }
https_interfaces = { "127.0.0.1" }
https_ssl = { certificate = $(q "$CERT"), key = $(q "$KEY") }
modules_disabled = { "s2s" }
-- The XEP-0033 service that ships with talkgroups (contrib/prosody/).
plugin_paths = { $(q "$REPO_DIR/contrib/prosody") }

modules_enabled = {
    "roster"; "saslauth"; "tls"; "disco"; "ping"; "version"; "time"; "uptime";
    "carbons"; "pep"; "private"; "vcard_legacy"; "blocklist"; "smacks";
    "csi_simple"; "mam";$( [ -z "${TALKGROUPS_QS_DEBUG:-}" ] || printf ' "talkgroups_stanza_log";')
}

-- Loopback only: STARTTLS is offered (self-signed certificate) but not
-- required, and plain passwords are allowed without it.
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"

VirtualHost "localhost"

Component "$COMPONENT_JID"
    component_secret = $(q "$COMPONENT_SECRET")

-- HTTP file upload (XEP-0363), so clients offer file sharing. Clients fetch
-- https://localhost:$HTTPS_PORT/..., which the same certificate covers.
Component "upload.localhost" "http_file_share"
    http_host = "localhost"
    http_external_url = "https://localhost:$HTTPS_PORT/"
    http_file_share_size_limit = 10 * 1024 * 1024

-- Group chat rooms (XEP-0045), to try bridging a group with a room:
-- send //addmuc tea tea@conference.localhost to lobby@$COMPONENT_JID.
Component "conference.localhost" "muc"
    restrict_room_creation = false

-- One stanza per relayed message instead of one per member (README,
-- "Registering the component").
Component "multicast.localhost" "talkgroups_multicast"
    multicast_senders = { "$COMPONENT_JID" }
EOF
} >"$PROSODY_CFG"
chmod 600 "$PROSODY_CFG"

# --- talkgroups config ---------------------------------------------------------
TG_CFG="$QS_DIR/talkgroups.toml"
(umask 077; cat >"$TG_CFG" <<EOF
# Written by contrib/quickstart.sh; rewritten on every run.
[component]
jid = "$COMPONENT_JID"
secret = $(q "$COMPONENT_SECRET")
server = "127.0.0.1:$COMPONENT_PORT"
multicast = "multicast.localhost"
multicast_batch = 10000

[storage]
database = $(q "$QS_DIR/talkgroups.sqlite3")

[http]
listen = "127.0.0.1:$HTTP_PORT"

[service]
admins = ["alice@localhost"]

[[group]]
name = "lobby"
title = "Lobby"
join = "open"
admins = ["alice@localhost"]
EOF
)

# --- Accounts -----------------------------------------------------------------
say "Registering alice@localhost and bob@localhost"
prosodyctl --config "$PROSODY_CFG" register alice localhost "$ALICE_PASSWORD" >/dev/null
prosodyctl --config "$PROSODY_CFG" register bob localhost "$BOB_PASSWORD" >/dev/null

# --- Start Prosody --------------------------------------------------------------
PROSODY_PID=
cleanup() {
    if [ -n "$PROSODY_PID" ] && kill -0 "$PROSODY_PID" 2>/dev/null; then
        say "Stopping Prosody (pid $PROSODY_PID)"
        kill "$PROSODY_PID" 2>/dev/null || true
        wait "$PROSODY_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "Starting Prosody (log: $QS_DIR/prosody.log)"
prosody -F --config "$PROSODY_CFG" >>"$QS_DIR/prosody.out" 2>&1 </dev/null &
PROSODY_PID=$!

for _ in $(seq 1 100); do
    kill -0 "$PROSODY_PID" 2>/dev/null || {
        tail -n 20 "$QS_DIR/prosody.out" "$QS_DIR/prosody.log" >&2 2>/dev/null || true
        die "Prosody exited at start; see $QS_DIR/prosody.log"
    }
    if port_in_use "$COMPONENT_PORT" && port_in_use "$C2S_PORT"; then break; fi
    sleep 0.1
done
port_in_use "$COMPONENT_PORT" || die "Prosody did not open port $COMPONENT_PORT; see $QS_DIR/prosody.log"

PORT_NOTE=
[ "$C2S_PORT" = 5222 ] || PORT_NOTE="  Port 5222 was taken, so the client port is $C2S_PORT: clients with no port
  setting (Dino) cannot reach this server.

"
cat >&2 <<EOF

  Prosody is running on 127.0.0.1 (client port $C2S_PORT, component port $COMPONENT_PORT).

  In any XMPP client, log in as
      alice@localhost   password $ALICE_PASSWORD
      bob@localhost     password $BOB_PASSWORD
  on server 127.0.0.1 port $C2S_PORT. The server offers STARTTLS with a
  self-signed certificate for "localhost"; when a client asks whether to
  trust it, check it is this one and accept:
      $CERT
      SHA-256 $CERT_SHA256
      SHA-1   $CERT_SHA1   (profanity shows this one, without colons)
  Dino has no "trust anyway" button: add the certificate to the system's
  trust store (docs/clients.md).
  TLS is optional here, and plain passwords are allowed without it
  (profanity: /connect alice@localhost server 127.0.0.1 port $C2S_PORT tls disable).

${PORT_NOTE}  Then add lobby@$COMPONENT_JID as a contact and chat; send //help to it.
  alice is an admin of the group and of the service ($COMPONENT_JID).

  Group chat rooms: conference.localhost. To bridge lobby with a room, send
  //addmuc tea tea@conference.localhost to lobby (as alice), then join
  tea@conference.localhost from bob's client.

  File sharing: upload.localhost (HTTP upload on https://localhost:$HTTPS_PORT/,
  same certificate). talkgroups HTTP (routes, /healthz, /metrics):
  http://127.0.0.1:$HTTP_PORT/healthz

  Files: $QS_DIR (talkgroups.toml, prosody.cfg.lua, logs, database).
  Ctrl-C stops talkgroups and Prosody.

EOF

# --- Run talkgroups -------------------------------------------------------------
if [ -n "${TALKGROUPS_BIN:-}" ]; then
    say "Running $TALKGROUPS_BIN --config $TG_CFG"
    "$TALKGROUPS_BIN" --config "$TG_CFG"
else
    say "Building and running talkgroups (cargo run --release; the first build takes a few minutes)"
    (cd "$REPO_DIR" && cargo run --release -- --config "$TG_CFG")
fi
