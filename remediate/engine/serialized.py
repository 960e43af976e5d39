"""The journal's SQLite connection, shared by a run's threads."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any


class Serialized:
    """The journal's one connection, shared by a run's threads (one per server): a transaction
    (`with db:`) holds the lock from its BEGIN to its COMMIT, so two threads' transactions never
    interleave on the connection; a lone statement takes it for itself."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._lock = threading.RLock()

    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._connection.execute(sql, parameters)

    def executescript(self, script: str) -> sqlite3.Cursor:
        with self._lock:
            return self._connection.executescript(script)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            return self._connection.__enter__()
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, *exc: Any) -> Any:
        try:
            return self._connection.__exit__(*exc)
        finally:
            self._lock.release()
