"""Property: whatever bytes a routine, vocabulary or settings file holds, loading it gives either
a loaded object or errors naming the file (printed one line each, see errors.printable), never
another exception (a service on a shelf must say what
is wrong once, not crash in a loop). Random bytes rarely get past the YAML parser, so most
examples are a valid file with one value swapped for something else."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voiceguide.content.loading import content_root, load_library
from voiceguide.errors import VoiceguideError
from voiceguide.session import settings as settings_module
from voiceguide.speaking.timeline import compile_routine, schedule

from ..routine_yaml import VALID

EXAMPLES = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30),
    st.sampled_from(["left", "right", "stop", "pain", "{side}", "{x}", "", " ", "9" * 5000, "S T AA P"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                      max_leaves=8)


def _paths(data, prefix=()):
    """Every key path in a YAML document, the document itself first."""
    yield prefix
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        yield from _paths(value, prefix + (key,))


def _swapped(data, path, value):
    """`data` with the value at `path` replaced (or, for a new key of a mapping, added)."""
    if not path:
        return value
    copy = dict(data) if isinstance(data, dict) else list(data)
    inner = copy.get(path[0]) if isinstance(copy, dict) else copy[path[0]]
    copy[path[0]] = _swapped(inner, path[1:], value)
    return copy


def mutants(text: str):
    """`text` as YAML, with the value at one key path swapped, or a key added, and dumped again."""
    doc = yaml.safe_load(text)
    paths = list(_paths(doc))
    mappings = [p for p in paths if isinstance(_at(doc, p), dict)]

    @st.composite
    def build(draw):
        path = draw(st.sampled_from(paths))
        if draw(st.booleans()):
            path = draw(st.sampled_from(mappings)) + (draw(st.text(max_size=8)),)
        return yaml.safe_dump(_swapped(doc, path, draw(values)), allow_unicode=True).encode()

    return build()


def _at(data, path):
    for key in path:
        data = data[key]
    return data


def _load(name: str, raw: bytes):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(raw)
        library = load_library([path])
    for problem in library.problems:
        assert str(problem).startswith(str(path)), problem  # FILE:LINE: key.path: message
    for routine in library.routines.values():  # what loads without errors must also compile
        schedule(compile_routine(routine, library.routines))
    return library


@EXAMPLES
@given(st.one_of(st.binary(max_size=300), mutants(VALID)))
def test_any_routine_file_loads_or_gives_one_line_errors(raw):
    _load("routine.yaml", raw)


@EXAMPLES
@given(st.one_of(st.binary(max_size=300), mutants((content_root() / "commands" / "en.yaml").read_text())))
def test_any_vocabulary_file_loads_or_gives_one_line_errors(raw):
    _load("en.yaml", raw)


SETTING_LINES = st.lists(
    st.tuples(
        st.sampled_from([*(f.name for f in settings_module.FIELDS), "spotting", "nonsense", "[spotting]", "rate.x"]),
        st.sampled_from(["1", "-1", "0", "1e400", "9" * 5000, '"x"', '"\\u0007"', "true", "[1, 2]", "{a = 1}",
                         '"default"', "nan", "inf", "1979-05-27", '"stop"', "{stop = 0}", "{pain = -30}"]),
    ).map(lambda kv: f"{kv[0]} = {kv[1]}\n" if not kv[0].startswith("[") else f"{kv[0]}\n"),
    max_size=5,
).map(lambda lines: "".join(lines).encode())


@EXAMPLES
@given(st.one_of(st.binary(max_size=200), SETTING_LINES))
def test_any_settings_file_loads_or_gives_a_one_line_error(raw):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "settings.toml"
        path.write_bytes(raw)
        saved = os.environ.get("XDG_DATA_HOME")
        os.environ["XDG_DATA_HOME"] = folder  # no kept choices from this machine
        try:
            settings_module.resolve({}, path)
        except VoiceguideError as exc:
            assert str(path) in str(exc), exc
        finally:
            if saved is None:
                del os.environ["XDG_DATA_HOME"]
            else:
                os.environ["XDG_DATA_HOME"] = saved
