"""Settings: the carer's TOML file, what the person chose by voice, flags; and their errors."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from benchmarks.speechset import person
from voiceguide.audio import write_wav

from ..conftest import run_cli


@pytest.fixture
def home(tmp_path):
    """Folders of its own for settings and data; `write(text)` writes the settings file."""
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}
    path = tmp_path / "config" / "voiceguide" / "settings.toml"

    def write(text: str):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return env, path, write


def effective(env, *flags) -> dict:
    result = run_cli("config", "--json", *flags, env=env)
    assert result.returncode == 0, result.stderr
    return {k: (v["value"], v["from"]) for k, v in json.loads(result.stdout)["settings"].items()}


def test_flags_beat_the_kept_choice_which_beats_the_file_which_beats_the_default(home):
    env, path, write = home
    assert effective(env)["rate"] == (150, "default")
    write('rate = 300\nvoice = "en-gb"\nscreening_days = 7\n[max_per_day]\nupper-back = 1\n')
    found = effective(env)
    assert found["rate"] == (300, str(path)) and found["voice"] == ("en-gb", str(path)) and found["volume"] == (0.8, "default")
    assert found["max_per_day"] == ({"upper-back": 1}, str(path))
    kept = path.parent.parent.parent / "data" / "voiceguide" / "kept.json"
    kept.parent.mkdir(parents=True)
    kept.write_text(json.dumps({"rate": 400}))
    assert effective(env)["rate"] == (400, "kept")
    found = effective(env, "--rate", "200", "--no-echo-cancel")
    assert found["rate"] == (200, "flag") and found["echo_cancel"] == (False, "flag") and found["voice"][0] == "en-gb"
    assert run_cli("config", "--forget", env=env).returncode == 0
    assert effective(env)["rate"] == (300, str(path))


@pytest.mark.parametrize("text, line, message", [
    ("rate = 120\nspeed = 9\n", 2, "unknown setting 'speed'"),
    ("voice = 'en-gb'\nrate = 900\n", 2, "'rate' must be a whole number from 80 to 500"),
    ("echo_cancel = 'no'\n", 1, "'echo_cancel' must be true or false"),
    ("volume = 0.5\n\n[max_per_day]\nupper-back = 0\n", 3, "'max_per_day' 'upper-back' must be a whole number from 1 to 10"),
    ("rate = \n", 1, "not valid TOML"),
])
def test_a_bad_settings_file_is_a_one_line_error_naming_the_file_line_and_key(home, text, line, message):
    env, path, write = home
    write(text)
    for command in (("config",), ("show", "warm-up")):
        result = run_cli(*command, env=env)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == result.stderr.strip().splitlines()[0], result.stderr
        assert f"{path}:{line}:" in result.stderr and message in result.stderr, result.stderr


def test_a_spotting_threshold_for_a_phrase_the_vocabulary_lacks_is_named(home, tmp_path):
    env, path, write = home
    write('[spotting]\n"stop now" = -40\n"halt" = -20\n')
    write_wav(tmp_path / "user.wav", person([(1.0, "stop")])[0])
    result = run_cli("run", "warm-up", "--simulate", "--user-audio", str(tmp_path / "user.wav"), env=env)
    assert result.returncode == 2 and "spotting: 'halt' is not a phrase of the 'en' vocabulary" in result.stderr, result.stderr
    assert str(path) in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_no_setting_can_make_stop_or_pain_unhearable(home, tmp_path):
    """A threshold of 1e0 for "pain" spots nothing: a person saying "pain" would go unheard. Every
    command that reads the settings refuses it, naming the file and the key."""
    env, path, write = home
    write('[spotting]\npain = 0\n"stop now" = -40\n')
    write_wav(tmp_path / "user.wav", person([(1.0, "pain")])[0])
    for command in (("config",), ("check",), ("run", "warm-up", "--simulate", "--user-audio", str(tmp_path / "user.wav"))):
        result = run_cli(*command, env=env)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert result.stderr.strip().splitlines() == [
            f"voiceguide: {path}: spotting: 'pain' is a pain phrase and must stay easy to hear: use -15 or lower, or remove the line"
        ], (command, result.stderr)


def test_a_settings_file_that_is_not_utf8_is_named_and_a_byte_order_mark_is_fine(home):
    env, path, write = home
    write("rate = 120\n")
    path.write_bytes("voice = 'en-gb'\n# caf\u00e9\n".encode("latin-1"))
    result = run_cli("config", env=env)
    assert result.returncode == 2 and result.stderr.strip() == (
        f"voiceguide: {path}:2: not UTF-8 (byte 0xe9); save the settings file as UTF-8"), result.stderr
    path.write_bytes(b"\xef\xbb\xbfrate = 120\n")
    assert effective(env)["rate"] == (120, str(path))


@pytest.mark.parametrize("kind", ["missing", "folder", "fifo", "device"])
def test_voiceguide_settings_naming_no_regular_file_is_refused_at_once(home, tmp_path, kind):
    import os

    env, _, _ = home
    target = {"missing": tmp_path / "nope.toml", "folder": tmp_path, "fifo": tmp_path / "fifo", "device": "/dev/zero"}[kind]
    if kind == "fifo":
        os.mkfifo(target)  # reading it would wait for a writer for ever
    result = run_cli("config", env={**env, "VOICEGUIDE_SETTINGS": str(target)}, timeout=20)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and str(target) in result.stderr, result.stderr
    assert ("no such settings file" if kind == "missing" else "not a regular file") in result.stderr


def test_two_sessions_keeping_their_choices_at_once_never_fail(home):
    """Each writes through a temporary file of its own, then renames it over the kept file."""
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    env, _, _ = home
    code = ("import sys; from voiceguide.session import settings\n"
            "for i in range(40): settings.keep(rate=100 + int(sys.argv[1]) + i)\n")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda n: subprocess.run(
            [sys.executable, "-c", code, str(n)], env={**os.environ, **env}, capture_output=True, text=True), range(4)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    kept = Path(env["XDG_DATA_HOME"]) / "voiceguide"
    assert json.loads((kept / "kept.json").read_text())["rate"] >= 100
    assert not list(kept.glob("*.tmp")), list(kept.iterdir())
