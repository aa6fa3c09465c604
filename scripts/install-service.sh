#!/usr/bin/env bash
# Installs voiceguide's voice menu (`voiceguide serve`) as a systemd user service for the user who
# runs this: set-up as for the README's commands, the unit in ~/.config/systemd/user/, lingering
# so that it starts at boot with nobody logged in, then the service enabled and started. Run it as
# the user whose sound server has the speaker and microphone (not as root). Safe to run again.
#   scripts/install-service.sh           install and start
#   scripts/install-service.sh --print   print the unit it would install, and change nothing
#   scripts/install-service.sh --remove  stop, disable and remove the service
set -euo pipefail
cd "$(dirname "$0")/.."
project="$PWD"
unit_dir="${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user"

unit() {
  sed -e "s|@VOICEGUIDE@|$project/.venv/bin/voiceguide|g" -e "s|@PROJECT@|$project|g" scripts/voiceguide.service
}

case "${1:-}" in
  --print)
    unit
    exit 0
    ;;
  --remove)
    systemctl --user disable --now voiceguide.service 2>/dev/null || true
    rm -f "$unit_dir/voiceguide.service"
    systemctl --user daemon-reload
    echo "install-service: removed voiceguide.service" >&2
    exit 0
    ;;
  "") ;;
  *)
    echo "install-service: unknown option '$1'; use --print, --remove or nothing" >&2
    exit 2
    ;;
esac

if [ "$(id -u)" -eq 0 ]; then
  echo "install-service: run this as the speaker's user, not root: the service must reach that user's sound server" >&2
  exit 2
fi
scripts/setup.sh
mkdir -p "$unit_dir"
unit > "$unit_dir/voiceguide.service"
# Lingering starts the user's services, and the user's sound server, at boot.
loginctl enable-linger "$(id -un)"
systemctl --user daemon-reload
systemctl --user enable --now voiceguide.service
systemctl --user restart voiceguide.service
echo "install-service: voiceguide.service is running; follow it with: journalctl --user -u voiceguide -f" >&2
