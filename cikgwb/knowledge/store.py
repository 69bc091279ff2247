"""The answer store: every LLM answer, persisted the moment it arrives.

An SQLite file (WAL journal, ``synchronous=FULL``) with a schema version. Each answer is one
row written in its own transaction, so a process killed at any point (even SIGKILL) loses no
answer already committed and never leaves a half record: SQLite rolls an unfinished
transaction back on the next open. The store is append-only: an answer is never overwritten
(``INSERT OR IGNORE``).

The key of an answer is the SHA-256 of the canonical JSON of
``{"model", "template", "messages", "params"}`` (:func:`request_key`): the model name asked
for, the template's ``name@vN``, the exact chat messages and the sampling parameters. The same
request therefore hits the cache whatever the backend (chat or batch) or base URL.

One run at a time: a run that asks an LLM opens its store with ``exclusive=True``, which takes
an advisory lock (:func:`cikgwb.locks.hold_lock`) on ``<store>.lock`` of the store's RESOLVED path
(a ``--store`` given through a symlink locks the file it points to) for as long as the store is
open. A second run on the same store is refused at once (:class:`StoreBusy`, naming the store and
the pid that holds it) instead of paying for the same users twice. Readers (reports, progress
checks) open the store without the lock. The lock goes away with the process, even after SIGKILL.

Stored per answer: the key, user, dataset, model asked for and model that answered, template,
backend, endpoint (base URL without credentials or query), messages, params, the raw text,
usage, finish reason, request id and timestamps. Never an API key.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit, urlunsplit

SCHEMA_VERSION = 1

_COLUMNS = (
    "key",
    "user",
    "dataset",
    "model",
    "response_model",
    "template",
    "backend",
    "endpoint",
    "messages",
    "params",
    "raw",
    "usage",
    "finish_reason",
    "request_id",
    "requested_at",
    "received_at",
)
_JSON_COLUMNS = ("messages", "params", "usage")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    user INTEGER NOT NULL,
    dataset TEXT,
    model TEXT NOT NULL,
    response_model TEXT,
    template TEXT NOT NULL,
    backend TEXT NOT NULL,
    endpoint TEXT,
    messages TEXT NOT NULL,
    params TEXT NOT NULL,
    raw TEXT NOT NULL,
    usage TEXT,
    finish_reason TEXT,
    request_id TEXT,
    requested_at REAL,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_user ON answers(user);
CREATE TABLE IF NOT EXISTS superseded AS SELECT *, 0.0 AS superseded_at FROM answers WHERE 0;
"""


class StoreError(RuntimeError):
    """The answer store file is not usable (wrong schema version, not a store, ...)."""


class StoreBusy(StoreError):
    """Another run holds the answer store's lock."""


def _lock_store(path: Path) -> Any:
    """The held lock of the store at ``path`` (:func:`cikgwb.locks.hold_lock` on ``<path>.lock`` of
    the RESOLVED path: a store reached through a symlink takes the same lock), or :class:`StoreBusy`."""
    from ..locks import LockBusy, hold_lock, lock_path

    try:
        return hold_lock(
            lock_path(path), f"answer store {path}", "wait for it to finish, or give this run another --store"
        )
    except LockBusy as exc:
        raise StoreBusy(str(exc)) from None


def canonical_json(obj: Any) -> str:
    """Sorted-key, compact JSON: the bytes that are hashed for a key."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(model: str, template: str, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """SHA-256 hex of ``{"model", "template", "messages", "params"}`` in canonical JSON."""
    payload = {"model": model, "template": template, "messages": messages, "params": params}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def public_endpoint(base_url: str | None) -> str | None:
    """The base URL without user:password, query or fragment (safe to store)."""
    if not base_url:
        return base_url
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass
class StoredAnswer:
    """One answer as stored."""

    key: str
    user: int
    model: str
    template: str
    backend: str
    messages: list[dict[str, str]]
    params: dict[str, Any]
    raw: str
    dataset: str | None = None
    response_model: str | None = None
    endpoint: str | None = None
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None
    request_id: str | None = None
    requested_at: float | None = None
    received_at: float = field(default_factory=time.time)


class AnswerStore:
    """Append-only SQLite answer store, safe to use from several threads of one process.

    >>> with AnswerStore("answers.sqlite") as st:          # doctest: +SKIP
    ...     st.put(answer); st.get(answer.key).raw
    """

    def __init__(self, path: str | Path, exclusive: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._flock = _lock_store(self.path) if exclusive else None
        try:
            self._con = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30.0, isolation_level=None)
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=FULL")
            self._con.executescript(_SCHEMA)
            row = self._con.execute("SELECT v FROM meta WHERE k='schema_version'").fetchone()
        except sqlite3.DatabaseError as e:
            self._release()
            raise StoreError(f"{self.path}: not an answer store ({e})") from None
        if row is None:
            self._con.execute("INSERT OR IGNORE INTO meta(k, v) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            self._release()
            raise StoreError(f"{self.path}: schema version {row[0]}, this code reads version {SCHEMA_VERSION}")

    # ------------------------------------------------------------------ writing
    def put(self, answer: StoredAnswer) -> bool:
        """Persist one answer in its own committed transaction; False if the key was there."""
        return self.put_many([answer]) == 1

    def put_many(self, answers: Iterable[StoredAnswer]) -> int:
        """Persist answers in ONE transaction (all or none); returns how many were new."""
        rows = [self._row(a) for a in answers]
        if not rows:
            return 0
        sql = f"INSERT OR IGNORE INTO answers ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
        with self._lock:
            before = self._con.total_changes
            self._con.execute("BEGIN IMMEDIATE")
            try:
                self._con.executemany(sql, rows)
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            return self._con.total_changes - before

    def supersede(self, keys: Iterable[str]) -> int:
        """Move these answers to the ``superseded`` table (kept, never deleted), in one
        transaction, so that a run asks for them again; returns how many were moved."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return 0
        moved = 0
        cols = ", ".join(_COLUMNS)
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                for i in range(0, len(keys), 500):
                    chunk = tuple(keys[i : i + 500])
                    marks = ", ".join("?" * len(chunk))
                    self._con.execute(
                        f"INSERT INTO superseded ({cols}, superseded_at) SELECT {cols}, ? "
                        f"FROM answers WHERE key IN ({marks})",
                        (time.time(), *chunk),
                    )
                    moved += self._con.execute(f"DELETE FROM answers WHERE key IN ({marks})", chunk).rowcount
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
        return moved

    def superseded(self) -> list[StoredAnswer]:
        """Answers moved aside by :meth:`supersede` (oldest first)."""
        rows = self._query(f"SELECT {', '.join(_COLUMNS)} FROM superseded ORDER BY superseded_at")
        return [self._answer(r) for r in rows]

    @staticmethod
    def _row(a: StoredAnswer) -> tuple:
        if not isinstance(a.raw, str):
            raise TypeError(f"answer {a.key}: raw must be a str, got {type(a.raw).__name__}")
        d = asdict(a)
        for c in _JSON_COLUMNS:
            d[c] = None if d[c] is None else canonical_json(d[c])
        return tuple(d[c] for c in _COLUMNS)

    # ------------------------------------------------------------------ reading
    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._con.execute(sql, args).fetchall()

    def has(self, key: str) -> bool:
        return bool(self._query("SELECT 1 FROM answers WHERE key=?", (key,)))

    def keys(self) -> set[str]:
        return {r[0] for r in self._query("SELECT key FROM answers")}

    def get(self, key: str) -> StoredAnswer | None:
        rows = self._query(f"SELECT {', '.join(_COLUMNS)} FROM answers WHERE key=?", (key,))
        return self._answer(rows[0]) if rows else None

    def get_many(self, keys: Iterable[str]) -> dict[str, StoredAnswer]:
        """The stored answers among ``keys`` (absent keys are simply missing from the dict)."""
        keys = list(dict.fromkeys(keys))
        out: dict[str, StoredAnswer] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            rows = self._query(
                f"SELECT {', '.join(_COLUMNS)} FROM answers WHERE key IN ({', '.join('?' * len(chunk))})", tuple(chunk)
            )
            out.update({r[0]: self._answer(r) for r in rows})
        return out

    def all(self) -> list[StoredAnswer]:
        return [self._answer(r) for r in self._query(f"SELECT {', '.join(_COLUMNS)} FROM answers")]

    @staticmethod
    def _answer(row: tuple) -> StoredAnswer:
        d = dict(zip(_COLUMNS, row))
        for c in _JSON_COLUMNS:
            d[c] = None if d[c] is None else json.loads(d[c])
        return StoredAnswer(**d)

    def __len__(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM answers")[0][0])

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` result (``"ok"`` when sound)."""
        return str(self._query("PRAGMA integrity_check")[0][0])

    # ------------------------------------------------------------------ lifetime
    def _release(self) -> None:
        if self._flock is not None:
            from ..locks import release

            release(self._flock)  # closing the file drops the flock
            self._flock = None

    def close(self) -> None:
        with self._lock:
            self._con.close()
        self._release()

    def __enter__(self) -> "AnswerStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
