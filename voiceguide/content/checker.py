"""Checking one content file's values against the schema: every problem found is collected (with
its line and key path), not just the first."""

from __future__ import annotations

from typing import Any

from ..errors import Problem
from .types import ID_PATTERN, MAX_TEXT_CHARS
from .yamlsource import Document, KeyPath


class Checker:
    """Collects every problem in one document instead of stopping at the first."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.problems: list[Problem] = []

    def error(self, path: KeyPath, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    def mapping(self, value: Any, path: KeyPath, required: tuple, optional: tuple = ()) -> dict | None:
        if not isinstance(value, dict):
            self.error(path, f"must be a mapping with keys {', '.join(required)}")
            return None
        allowed = required + optional
        for key in value:
            if isinstance(key, bool):
                self.error(path, f"key {key} is YAML's reading of a bare yes/no/on/off; quote the key, as in \"yes\":")
            elif key not in allowed:
                self.error(path + (key,), f"unknown key; allowed here: {', '.join(allowed)}")
        for key in required:
            if key not in value:
                self.error(path, f"missing required key '{key}'")
        return value

    def text(self, value: Any, path: KeyPath) -> str | None:
        if isinstance(value, bool):
            self.error(path, "is YAML's true/false, read from a bare yes/no/on/off; quote it to mean the word")
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(path, "must be non-empty text")
            return None
        if len(value) > MAX_TEXT_CHARS:
            self.error(path, f"is {len(value)} characters; keep spoken text under {MAX_TEXT_CHARS}")
            return None
        return " ".join(value.split())

    def text_list(self, value: Any, path: KeyPath, allow_empty: bool = False) -> tuple[str, ...]:
        if not isinstance(value, list) or (not value and not allow_empty):
            self.error(path, "must be a list of texts" + ("" if allow_empty else " with at least one item"))
            return ()
        texts = [self.text(item, path + (i,)) for i, item in enumerate(value)]
        return tuple(t for t in texts if t is not None)

    def integer(self, value: Any, path: KeyPath, low: int, high: int, what: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.error(path, f"must be {what} between {low} and {high}")
            return None
        return value

    def seconds(self, value: Any, path: KeyPath, low: float, high: float) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            self.error(path, f"must be a number of seconds between {low:g} and {high:g}")
            return None
        return float(value)

    def identifier(self, value: Any, path: KeyPath) -> str | None:
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            self.error(path, "must be an id of lowercase letters, digits and single hyphens, like 'upper-back'")
            return None
        return value
