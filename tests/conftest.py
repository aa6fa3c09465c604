import multiprocessing
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def processes(workers: int) -> ProcessPoolExecutor:
    """Worker processes for recognizers that hold the GIL or take a core each (pocketsphinx,
    Whisper), started afresh rather than forked from a test process that has threads running."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `voiceguide ARGS` as a person would, in a child process; `env` adds variables."""
    import os

    return subprocess.run(
        [sys.executable, "-m", "voiceguide", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session", autouse=True)
def own_settings_and_data(tmp_path_factory):
    """No test reads the user's settings file or writes into the user's data folder (history,
    kept speech rate); tests that look at either give their own folders."""
    import os

    folder = tmp_path_factory.mktemp("xdg")
    saved = {k: os.environ.get(k) for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "VOICEGUIDE_SETTINGS")}
    os.environ.update(XDG_CONFIG_HOME=str(folder / "config"), XDG_DATA_HOME=str(folder / "data"))
    os.environ.pop("VOICEGUIDE_SETTINGS", None)
    yield folder
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session", autouse=True)
def speech_cache_dir(tmp_path_factory):
    """One speech cache for the whole run, so each text is synthesized once per run and no test
    reads or writes the user's own cache."""
    import os

    folder = tmp_path_factory.mktemp("xdg-cache")
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture(scope="session")
def pulse():
    """A private PulseAudio server with null sinks "guide" and "mic", for real-device tests.

    The guide plays into "guide", whose monitor is the default source for recording."""
    import os

    from benchmarks.pulse import PulseServer, warm_up

    server = PulseServer().start()
    saved = {k: os.environ.get(k) for k in server.env}
    os.environ.update(server.env)
    if "sounddevice" in sys.modules:  # PortAudio lists devices when it starts: list them again
        sd = sys.modules["sounddevice"]
        sd._terminate()
        sd._initialize()
    warm_up()
    yield server
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
