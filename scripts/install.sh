#!/usr/bin/env bash
# Install harvestd as a systemd service — the README's "Install as a service", as one script.
# Run as root from a checkout:  sudo scripts/install.sh
# Every path can be changed through the environment (the test suite installs into a
# temporary tree this way):
#   PREFIX=/opt/harvestd         code and virtualenv ($PREFIX/.venv)
#   CONF_DIR=/etc/harvestd       config.toml (installed once, never overwritten)
#   UNIT_DIR=/etc/systemd/system the unit and its drop-ins
#   STATE_DIR=/var/lib/harvestd  data_dir (the unit passes it as HARVESTD_DATA_DIR=%S/harvestd)
#   SERVICE_USER=harvestd        system user (created when missing)
#   LIBRARY=                     a library outside the state directory, e.g. a NAS share:
#                                owned by the user, written into the config, and allowed by a
#                                ReadWritePaths= drop-in
#   FILE_MODE= DIR_MODE=         [library] file_mode / dir_mode for the new config (e.g. 0644 /
#                                0755: NAS users outside the harvestd group can read images)
#   VENV_FROM=                   reuse this virtualenv instead of building $PREFIX/.venv
#   START=yes                    systemctl daemon-reload + enable --now (when systemd runs)
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="${PREFIX:-/opt/harvestd}"
CONF_DIR="${CONF_DIR:-/etc/harvestd}"
UNIT_DIR="${UNIT_DIR:-/etc/systemd/system}"
STATE_DIR="${STATE_DIR:-/var/lib/harvestd}"
SERVICE_USER="${SERVICE_USER:-harvestd}"
LIBRARY="${LIBRARY:-}"
START="${START:-yes}"
say() { printf 'install: %s\n' "$*"; }
as_user() {  # run a command as the service user (as the unit will)
  if [ "$(id -u)" -eq 0 ] && [ "$SERVICE_USER" != root ]; then runuser -u "$SERVICE_USER" -- "$@"; else "$@"; fi
}

# 1. the system user
if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
  useradd --system --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
  say "created system user $SERVICE_USER"
fi
GROUP="$(id -gn "$SERVICE_USER")"

# 2. code and virtualenv
install -d -m 0755 "$PREFIX"
if [ -n "${VENV_FROM:-}" ]; then
  ln -sfn "$VENV_FROM" "$PREFIX/.venv"
elif [ ! -x "$PREFIX/.venv/bin/harvestd" ]; then
  python3 -m venv "$PREFIX/.venv"
  "$PREFIX/.venv/bin/pip" install --quiet "$SRC"
fi
install -m 0644 "$SRC/README.md" "$PREFIX/README.md"
HARVESTD="$PREFIX/.venv/bin/harvestd"

# 3. folders: state (data_dir) and the library
install -d -m 0750 -o "$SERVICE_USER" -g "$GROUP" "$STATE_DIR"
if [ -n "$LIBRARY" ]; then
  install -d "$LIBRARY"
  chown "$SERVICE_USER:$GROUP" "$LIBRARY"
fi

# 4. the config: installed once, readable by the service's group only
install -d -m 0755 "$CONF_DIR"
CONFIG="$CONF_DIR/config.toml"
if [ ! -e "$CONFIG" ]; then
  install -m 0640 -g "$GROUP" "$SRC/config.toml" "$CONFIG"
  if [ -n "$LIBRARY" ] || [ -n "${FILE_MODE:-}" ] || [ -n "${DIR_MODE:-}" ]; then
    python3 - "$CONFIG" "$LIBRARY" "${FILE_MODE:-}" "${DIR_MODE:-}" <<'PY'
import sys
path, library, file_mode, dir_mode = sys.argv[1:]
lines = []
if library:
    lines.append(f'root = "{library}"')
if file_mode:
    lines.append(f'file_mode = "{file_mode}"')
if dir_mode:
    lines.append(f'dir_mode = "{dir_mode}"')
text = open(path, encoding="utf-8").read()
text = text.replace("[library]\n", "[library]\n" + "".join(f"{line}\n" for line in lines), 1)
open(path, "w", encoding="utf-8").write(text)
PY
  fi
  say "installed $CONFIG (edit it, then: systemctl reload harvestd)"
else
  say "kept the existing $CONFIG"
fi

# 5. the unit, pointing at these paths, and the library's drop-in
install -d -m 0755 "$UNIT_DIR"
sed -e "s#/opt/harvestd#$PREFIX#g" -e "s#/etc/harvestd/config.toml#$CONFIG#g" \
    -e "s#^User=harvestd#User=$SERVICE_USER#" -e "s#^Group=harvestd#Group=$GROUP#" \
    "$SRC/systemd/harvestd.service" > "$UNIT_DIR/harvestd.service"
chmod 0644 "$UNIT_DIR/harvestd.service"
if [ -n "$LIBRARY" ]; then
  install -d -m 0755 "$UNIT_DIR/harvestd.service.d"
  printf '[Service]\nReadWritePaths=%s\n' "$LIBRARY" > "$UNIT_DIR/harvestd.service.d/library.conf"
fi
if command -v systemd-analyze >/dev/null 2>&1; then
  systemd-analyze verify --man=no "$UNIT_DIR/harvestd.service"
  say "systemd-analyze verify: ok"
fi

# 6. the check the unit runs before every start, as its user, with its data_dir
as_user env HARVESTD_DATA_DIR="$STATE_DIR" "$HARVESTD" check-config --config "$CONFIG"

# 7. start
if [ "$START" = yes ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable --now harvestd
  say "started: journalctl -u harvestd -f"
else
  say "not started (START=$START, or systemd is not running here)"
fi
