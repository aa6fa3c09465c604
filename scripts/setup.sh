#!/usr/bin/env bash
# Installs what voiceguide needs on Debian: system packages (only those missing), then the
# package into .venv. Safe to run any number of times. Usage: scripts/setup.sh [test]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(espeak-ng libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins libspeexdsp1)
# systemd-analyze checks the service unit; flite and festival are the tests' other synthesized voices
[ "${1:-}" = test ] && packages+=(systemd flite festival festvox-kallpc16k festlex-cmu)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
extra="${1:-}"
stamp=".venv/.installed${extra:+-$extra}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing voiceguide into .venv" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extra:+[$extra]}"
  touch "$stamp"
fi
