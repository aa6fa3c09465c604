"""Settings: the carer's TOML file, what the person chose by voice, flags; and their errors."""

from __future__ import annotations

import json

import pytest

from voiceguide.speechset import person
from voiceguide.audio import write_wav

from .conftest import run_cli


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
