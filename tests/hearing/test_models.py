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


def _damaged_archive(encrypted: bool) -> bytes:
    """An archive whose download is whole (its size and SHA-256 are as the manifest says) but
    that fails while unpacking: a damaged deflate stream, or a member marked encrypted."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("test-model/am/final.mdl", ARCHIVE_FILES["am/final.mdl"])
    data = bytearray(buf.getvalue())
    if encrypted:
        data[6] |= 1  # the flag bit, in the local header and in the central directory
        data[data.rfind(b"PK\x01\x02") + 8] |= 1
    else:
        start = 30 + int.from_bytes(data[26:28], "little") + int.from_bytes(data[28:30], "little")
        data[start + 5] ^= 0xFF
        data[start + 6] ^= 0xFF
    return bytes(data)


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        body = self.server.bodies.get(self.path, self.server.body)
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
    httpd.bodies = {"/damaged.zip": _damaged_archive(encrypted=False), "/encrypted.zip": _damaged_archive(encrypted=True)}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()


def _models_dir(tmp_path: Path, server, path: str = "/model.zip", size: int | None = None, sha: str | None = None) -> Path:
    body = server.bodies.get(path, server.body)
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
        ("/model.zip", None, "f" * 64, "SHA-256"),
        ("/short.zip", 10**6, None, "expected 1000000"),
        ("/cut.zip", None, None, "gave 7141 bytes, expected 14282"),
        ("/model.zip", 100, None, "more than"),
        ("/damaged.zip", None, None, "the archive cannot be unpacked (Error -3 while decompressing data"),
        ("/encrypted.zip", None, None, "the archive cannot be unpacked (File <ZipInfo"),
    ],
    ids=["corrupt", "short", "interrupted", "too-long", "damaged-inside", "encrypted"],
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
    from voiceguide.hearing.models import manifest

    english = [e for e in manifest() if e.language == "en"]
    assert [e.name for e in english] == ["vosk-model-small-en-us-0.15"]
    assert english[0].url.startswith("https://alphacephei.com/vosk/models/") and len(english[0].sha256) == 64


@pytest.mark.parametrize("old, new, says", [
    ("name: test-model", "name: ../evil", "models[0]: name: '../evil' is not a plain name"),
    ("size: ", "size: big-", "is not a size in bytes"),
    ("sha256: ", "sha256: [", "not valid YAML"),
    ("sha256: ", "sha256: 00", "is not a SHA-256 in 64 lowercase hex digits"),
    ("    engine: vosk\n", "    engine: [vosk]\n", "models[0]: engine: ['vosk'] is not text"),
    ("    engine: vosk\n", "", "models[0]: needs exactly the keys name, language, engine, url, size, sha256"),
    ("models:", "packaged:\n  - {name: w/x, language: en, engine: whisper, package: p, module: m, folder: f, files: {}}\nmodels:",
     "packaged[0]: name: 'w/x' is not a plain name"),
    ("models:", "packaged:\n  - {name: w, language: en, engine: whisper, package: p, module: m, folder: ../.., files: {a: b}}\n"
     "models:", "packaged[0]: folder: '../..' is not a folder inside the package"),
], ids=["name-with-path", "size-text", "not-yaml", "short-sha", "engine-list", "missing-key", "packaged-name", "packaged-folder"])
def test_a_damaged_manifest_is_one_line_naming_the_entry_and_exit_2(cli, server, tmp_path, old, new, says):
    root = _models_dir(tmp_path, server)
    manifest = root / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace(old, new, 1))
    result = cli("models", "list", env={"VOICEGUIDE_MODELS": str(root)})
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"voiceguide: {manifest}:") and says in result.stderr, result.stderr
