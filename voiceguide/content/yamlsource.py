"""Reading YAML content safely, keeping the line number of every key and item.

This is `yaml.safe_load` with one look at the node tree between composing and constructing:
that look records where each value sits (so errors can say `FILE:LINE: key.path`), and rejects
what content never needs and an attacker would use: anchors and aliases (the "billion laughs"
alias bomb), duplicate keys (YAML silently keeps the last), and oversized files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem

MAX_FILE_BYTES = 256 * 1024
MAX_NUMBER_CHARS = 30
"""Content's numbers are seconds and counts, a few digits; Python refuses to read an integer of
more than 4,300 digits, and a long one is a mistake anyway."""
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")

KeyPath = tuple  # of str (mapping keys) and int (sequence indexes)


def format_path(path: KeyPath) -> str:
    """('steps', 2, 'hold') -> 'steps[2].hold'; the empty path is the document itself."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


@dataclass(frozen=True)
class Document:
    """A parsed content file: its data and the line of every key path in it."""

    file: str
    data: Any
    lines: dict

    def line(self, path: KeyPath) -> int:
        """The line of `path`, or of its nearest ancestor that has one (for missing keys)."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)

    def problem(self, path: KeyPath, message: str, severity: str = "error") -> Problem:
        return Problem(self.file, self.line(path), format_path(path), message, severity)


class YamlSourceError(Exception):
    """The file could not be read as content at all; `problem` says where and why."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def display_name(path: Path) -> str:
    """A path as a person typed it: relative to the working directory when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_document(path: Path) -> Document:
    """Read and parse one YAML file; raise YamlSourceError for anything that is not clean YAML."""
    name = display_name(path)

    def fail(line: int, message: str) -> YamlSourceError:
        return YamlSourceError(Problem(name, line, "(document)", message))

    try:
        size = path.stat().st_size  # before reading: a sparse file can claim a gigabyte it never stored
        if size > MAX_FILE_BYTES:
            raise fail(1, f"file is {size} bytes; content files must be under {MAX_FILE_BYTES} bytes")
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise fail(1, f"cannot read the file: {exc.strerror}; check the path and permissions") from None
    if len(raw) > MAX_FILE_BYTES:  # it grew while being read
        raise fail(1, f"file is over {MAX_FILE_BYTES} bytes; content files must be under {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise fail(line, f"not UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8") from None
    return parse_document(name, text.removeprefix("\ufeff"))  # some editors start UTF-8 with a byte-order mark


class _AliasRefused(yaml.MarkedYAMLError):
    pass


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases where they appear, so alias bombs never get composed."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise _AliasRefused(problem="anchors and aliases (&, *) are not allowed", problem_mark=self.peek_event().start_mark)
        return super().compose_node(parent, index)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\ufffe\uffff]")
"""Characters YAML refuses, and that no one types on purpose: C0/C1 controls but tab and line ends,
a byte-order mark (anywhere), non-characters."""


def parse_document(name: str, text: str) -> Document:
    bad = _CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise YamlSourceError(Problem(name, line, "(document)", f"control character U+{ord(bad.group()):04X} at column "
                                      f"{column}; remove it (save the file as plain UTF-8 text)"))
    loader = _NoAliasLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise YamlSourceError(Problem(name, 1, "(document)", "the file is empty"))
        lines: dict = {}
        _index(name, node, (), lines)
        data = loader.construct_document(node)
    except _AliasRefused as exc:
        line = exc.problem_mark.line + 1
        raise YamlSourceError(Problem(name, line, "(document)", f"{exc.problem}; write the value out")) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = exc.problem or exc.context or "syntax error"
        raise YamlSourceError(Problem(name, line, "(document)", f"not valid YAML: {what}")) from None
    except yaml.YAMLError as exc:
        raise YamlSourceError(Problem(name, 1, "(document)", f"not valid YAML: {' '.join(str(exc).split())}")) from None
    except RecursionError:
        raise YamlSourceError(Problem(name, 1, "(document)", "nested too deeply; content is a few levels deep at most")) from None
    finally:
        loader.dispose()
    return Document(name, data, lines)


def _index(name: str, node: yaml.Node, path: KeyPath, lines: dict) -> None:
    """Record the line of every node; reject duplicate keys."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode) and node.tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_CHARS:
        raise YamlSourceError(Problem(name, node.start_mark.line + 1, format_path(path),
                                      f"a number {len(node.value)} characters long; give a number of a few digits"))
    if isinstance(node, yaml.MappingNode):
        keys_seen: dict = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlSourceError(
                    Problem(name, key_node.start_mark.line + 1, format_path(path), "keys must be plain words")
                )
            key = key_node.value
            key_line = key_node.start_mark.line + 1
            if key in keys_seen:
                raise YamlSourceError(
                    Problem(
                        name,
                        key_line,
                        format_path(path + (key,)),
                        f"duplicate key (first on line {keys_seen[key]}); keep one",
                    )
                )
            keys_seen[key] = key_line
            lines[path + (key,)] = key_line
            _index(name, value_node, path + (key,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(name, item, path + (i,), lines)
