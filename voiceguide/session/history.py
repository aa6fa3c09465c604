"""Session history and remembered screening answers, in SQLite under the XDG data folder.

One row per session, written when it starts and updated when it ends, so a session that is
killed outright still shows (as "error", with no end time) and no earlier row is touched. WAL
journaling with full sync: each commit is on disk before the session goes on.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import VoiceguideError
from .settings import data_dir

OUTCOMES = ("completed", "stopped", "pain", "declined", "error")
DAY_S = 24 * 3600
GUARD_WINDOW_S = DAY_S

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    routine TEXT NOT NULL,
    started REAL NOT NULL,      -- seconds since the epoch
    ended REAL,                 -- NULL while running, or when the process was killed
    outcome TEXT NOT NULL,      -- 'error' until the session ends and says otherwise
    commands TEXT NOT NULL,     -- JSON list of {"t", "command", "text"}
    stepped REAL                -- when the routine's first step began; NULL if it never did
);
CREATE TABLE IF NOT EXISTS answers (
    routine TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,       -- 'yes' or 'no'
    answered REAL NOT NULL,
    PRIMARY KEY (routine, question)
);
"""


@dataclass(frozen=True)
class SessionRow:
    id: int
    routine: str
    started: float
    ended: float | None
    outcome: str
    commands: list

    def to_json(self) -> dict:
        return {
            "id": self.id, "routine": self.routine, "started": _iso(self.started),
            "ended": _iso(self.ended) if self.ended is not None else None, "outcome": self.outcome,
            "commands": self.commands,
        }


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))


class DamagedHistory(VoiceguideError):
    """The history file is there but is not a sound SQLite database."""


class History:
    def __init__(self, path: Path | None = None, in_memory: bool = False):
        """`in_memory`: a history that lasts as long as this process, for when the file cannot be used."""
        self.path = Path(":memory:") if in_memory else path or data_dir() / "history.sqlite3"
        self.skipped = 0
        """Rows that `sessions` could not read (edited by hand, or damaged) and left out."""
        if in_memory:
            self._db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            self._db.executescript(_SCHEMA)
            return
        try:
            # Outcomes are health information: the folder and the file are the user's alone.
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self.path.exists():  # SQLite gives its -wal and -shm files the database's mode
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            # One session uses it from one thread at a time, but not always the thread that opened it.
            self._db = sqlite3.connect(str(self.path), timeout=5, isolation_level=None, check_same_thread=False)
            if self._db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("database disk image is malformed")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(sessions)")}
            if "stepped" not in columns:  # a history from before 'stepped': its ended sessions had begun
                with self._db:
                    self._db.execute("BEGIN")
                    self._db.execute("ALTER TABLE sessions ADD COLUMN stepped REAL")
                    self._db.execute("UPDATE sessions SET stepped = started WHERE outcome IN ('completed', 'stopped', 'pain')")
        except sqlite3.DatabaseError as exc:
            if type(exc) is sqlite3.DatabaseError:  # not a database, or malformed (not locked, not unwritable)
                self._db.close()
                raise DamagedHistory(f"the session history {self.path} is damaged ({exc})") from None
            raise VoiceguideError(
                f"cannot open the session history {self.path} ({exc}); check the folder is writable, or set XDG_DATA_HOME"
            ) from None
        except OSError as exc:
            raise VoiceguideError(
                f"cannot open the session history {self.path} ({exc}); check the folder is writable, or set XDG_DATA_HOME"
            ) from None

    def _write(self, sql: str, args: tuple) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise VoiceguideError(f"cannot write the session history {self.path} ({exc}); check the disk and the file") from None

    def start(self, routine: str, now: float) -> int:
        return self._write(
            "INSERT INTO sessions (routine, started, outcome, commands) VALUES (?, ?, 'error', '[]')", (routine, now)
        ).lastrowid

    def stepped(self, session_id: int, now: float) -> None:
        """The routine's first step has begun: from now on the session counts toward the daily limit."""
        self._write("UPDATE sessions SET stepped = ? WHERE id = ? AND stepped IS NULL", (now, session_id))

    def finish(self, session_id: int, outcome: str, now: float, commands: list) -> None:
        assert outcome in OUTCOMES, outcome
        self._write(
            "UPDATE sessions SET ended = ?, outcome = ?, commands = ? WHERE id = ?",
            (now, outcome, json.dumps(commands, ensure_ascii=False), session_id),
        )

    def sessions(self) -> list[SessionRow]:
        """Every session, oldest first; a row that cannot be read is left out and counted in `skipped`."""
        found, self.skipped = [], 0
        for r in self._db.execute("SELECT id, routine, started, ended, outcome, commands FROM sessions ORDER BY id"):
            try:
                commands = json.loads(r[5])
                for t in (r[2], r[3]) if r[3] is not None else (r[2],):
                    _iso(t)  # a time that cannot be shown (text, 1e300) is damage too
                sound = (isinstance(r[1], str) and r[4] in OUTCOMES and isinstance(commands, list)
                         and all(isinstance(c, dict) and isinstance(c.get("command"), str) for c in commands))
            except (TypeError, ValueError, OverflowError, OSError):
                sound = False
            if sound:
                found.append(SessionRow(r[0], r[1], r[2], r[3], r[4], commands))
            else:
                self.skipped += 1
        return found

    def done_recently(self, routine: str, now: float) -> int:
        """Sessions of `routine` that reached its first step in the 24 hours before `now` (one killed
        in its first seconds, or declined at screening, does not count)."""
        (count,) = self._db.execute(
            "SELECT COUNT(*) FROM sessions WHERE routine = ? AND stepped IS NOT NULL AND started > ?",
            (routine, now - GUARD_WINDOW_S),
        ).fetchone()
        return count

    def save_answers(self, routine: str, answers: dict, now: float) -> None:
        """Remember answers, a mapping of question text to 'yes' or 'no'."""
        with self._db:
            self._db.execute("BEGIN")
            for question, answer in answers.items():
                self._write(
                    "INSERT OR REPLACE INTO answers (routine, question, answer, answered) VALUES (?, ?, ?, ?)",
                    (routine, question, answer, now),
                )

    def answers_for(self, routine: str, now: float, kept_days: float) -> dict:
        """The answers given for `routine` within the last `kept_days` (the setting screening_days):
        question text -> 'yes' / 'no'."""
        return dict(
            self._db.execute(
                "SELECT question, answer FROM answers WHERE routine = ? AND answered > ?", (routine, now - kept_days * DAY_S)
            ).fetchall()
        )

    def close(self) -> None:
        self._db.close()


def open_history(path: Path | None = None) -> tuple[History, str | None]:
    """The session history, and a one-line notice when it could not be used as it was.

    A history is not worth a session: a damaged file is moved aside (kept, for whoever wants to
    look) and a new one started; one that cannot be opened at all (an unwritable folder) becomes a
    history in memory, for this session alone."""
    try:
        return History(path), None
    except DamagedHistory as exc:
        damaged = exc
    except VoiceguideError as exc:
        return History(in_memory=True), f"note: {exc}; this session is not recorded"
    aside = path or data_dir() / "history.sqlite3"
    kept = aside.with_name(f"{aside.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        aside.rename(kept)
        for suffix in ("-wal", "-shm"):
            Path(f"{aside}{suffix}").unlink(missing_ok=True)
        return History(path), f"note: {damaged}; it was moved to {kept} and a new history started"
    except (OSError, VoiceguideError) as exc:
        return History(in_memory=True), f"note: {damaged}, and could not be moved aside ({exc}); this session is not recorded"
