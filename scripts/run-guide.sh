#!/usr/bin/env bash
# The main job: set up, then guide a session of ROUTINE (default upper-back).
# With a sound card, a real session on the default speaker and microphone. Without one, a
# simulated session: a synthesized person says "pain" 75 seconds in, and what the guide said and
# heard is written to simulated/ (session.wav, events.jsonl, transcript.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
routine="${1:-upper-back}"
if grep -qs '^ *[0-9]' /proc/asound/cards; then
  exec .venv/bin/voiceguide run "$routine"
fi
out=simulated
mkdir -p "$out"
echo "run-guide: no sound card here, so this is a simulated session; its files go to $out/" >&2
export XDG_DATA_HOME="$PWD/$out/data"   # the simulation keeps its own history, fresh each run
rm -rf "$out/data"
.venv/bin/voiceguide screen "$routine" --answers no   # answered ahead of time, as a carer would
.venv/bin/python scripts/user-audio.py "$out/user.wav" 75:pain
exec .venv/bin/voiceguide run "$routine" --simulate --user-audio "$out/user.wav" --out "$out/session.wav" \
  --events "$out/events.jsonl" --transcript "$out/transcript.txt"
