"""`voiceguide models`: the manifest, and downloads from a local HTTP server."""

import hashlib
import http.server
import io
import threading
import zipfile
from pathlib import Path

import pytest

ARCHIVE_FILES = {"am/final.mdl": b"acoustic model" * 1000, "conf/model.conf": b"--beam=10\n"}


def _archive() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in ARCHIVE_FILES.items():
            z.writestr(f"test-model/{name}", data)
    return buf.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        body = self.server.body
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path == "/cut.zip":  # the connection drops half-way through
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        if self.path == "/short.zip":  # the server sends, and admits to, less than expected
            self.wfile.write(body)
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.body = _archive()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()


def _models_dir(tmp_path: Path, server, path: str = "/model.zip", size: int | None = None, sha: str | None = None) -> Path:
    body = server.body
    root = tmp_path / "models"
    root.mkdir()
    (root / "manifest.yaml").write_text(
        "models:\n"
        "  - name: test-model\n"
        "    language: xx\n"
        "    engine: vosk\n"
        f"    url: http://127.0.0.1:{server.server_address[1]}{path}\n"
        f"    size: {size if size is not None else len(body)}\n"
        f"    sha256: {sha or hashlib.sha256(body).hexdigest()}\n"
    )
    return root


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name != "manifest.yaml")


def test_download_checks_and_installs_the_model(cli, server, tmp_path):
    root = _models_dir(tmp_path, server)
    env = {"VOICEGUIDE_MODELS": str(root)}
    before = cli("models", "list", env=env)
    assert "test-model" in before.stdout and "not installed" in before.stdout
    result = cli("models", "download", "test-model", env=env)
    assert result.returncode == 0, result.stderr
    assert "100%" in result.stderr  # the progress bar reached its end
    for name, data in ARCHIVE_FILES.items():
        assert (root / "test-model" / name).read_bytes() == data
    assert _leftovers(root) == ["test-model"]
    after = cli("models", "list", env=env)
    assert "not installed" not in after.stdout and "installed" in after.stdout
    again = cli("models", "download", "test-model", env=env)
    assert again.returncode == 0 and "already installed" in again.stdout


@pytest.mark.parametrize(
    "path, size, sha, says",
    [
        ("/model.zip", None, "0" * 64, "SHA-256"),
        ("/short.zip", 10**6, None, "expected 1000000"),
        ("/cut.zip", None, None, "gave 7141 bytes, expected 14282"),
        ("/model.zip", 100, None, "more than"),
    ],
    ids=["corrupt", "short", "interrupted", "too-long"],
)
def test_a_bad_download_is_one_line_and_installs_nothing(cli, server, tmp_path, path, size, sha, says):
    root = _models_dir(tmp_path, server, path, size, sha)
    result = cli("models", "download", "test-model", env={"VOICEGUIDE_MODELS": str(root)})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 or (len(lines) == 2 and "%" in lines[0])  # the progress line, then the error
    assert lines[-1].startswith("voiceguide: ") and says in lines[-1] and "nothing was installed" in lines[-1]
    assert _leftovers(root) == []


def test_unknown_model_names_the_known_ones(cli, server, tmp_path):
    root = _models_dir(tmp_path, server)
    result = cli("models", "download", "nope", env={"VOICEGUIDE_MODELS": str(root)})
    assert result.returncode == 2
    assert result.stderr.strip() == f"voiceguide: no model 'nope' in {root / 'manifest.yaml'}; known: test-model"


def test_the_shipped_manifest_has_the_official_english_model(cli):
    from voiceguide.models import manifest

    english = [e for e in manifest() if e.language == "en"]
    assert [e.name for e in english] == ["vosk-model-small-en-us-0.15"]
    assert english[0].url.startswith("https://alphacephei.com/vosk/models/") and len(english[0].sha256) == 64
