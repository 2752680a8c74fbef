"""The persistent crawl frontier: every URL the crawl knows, and what became of it (SQLite).

A URL moves ``queued -> fetching -> written -> done``, or ends ``failed`` (with a reason) or
``disallowed`` (robots.txt). ``written`` means its WARC records are in the WARC segment that is
still open (a temporary file); only when that segment is closed and renamed does
:meth:`Frontier.commit_segment` turn its URLs ``done``. So after a SIGKILL:

* a segment renamed but not yet marked complete is rolled forward (the file is whole, because
  the rename is the last thing that happens to it);
* URLs of a segment that never got renamed, and URLs caught ``fetching``, go back to
  ``queued`` and are fetched again; their partial temporary WARC is deleted;
* nothing that is in a completed WARC is ever fetched again.

Every change is its own committed transaction (WAL mode), so the database never disagrees with
the WARC folder by more than the open segment.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hanforge.corpus.crawl.links import host_key

_SCHEMA = """
CREATE TABLE IF NOT EXISTS urls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT UNIQUE NOT NULL,
    host TEXT NOT NULL,
    depth INTEGER NOT NULL,
    hops INTEGER NOT NULL DEFAULT 0,
    priority INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL DEFAULT 'queued',
    reason TEXT,
    http_status INTEGER,
    segment INTEGER
);
CREATE INDEX IF NOT EXISTS urls_queue ON urls (status, priority, id);
CREATE INDEX IF NOT EXISTS urls_segment ON urls (segment);
CREATE TABLE IF NOT EXISTS segments (seq INTEGER PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hosts (host TEXT PRIMARY KEY, sitemaps_done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

#: statuses that count against ``max_pages`` (the URL was, or is being, fetched)
FETCHED_STATUSES = ("fetching", "written", "done", "failed")


@dataclass(frozen=True)
class FrontierEntry:
    """One URL taken from the queue."""

    url: str
    depth: int
    hops: int


class Frontier:
    """SQLite-backed URL queue and ledger of one crawl folder; see the module docstring."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One explicit transaction (the connection autocommits single statements otherwise)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- run-level state -------------------------------------------------------------------
    def get_meta(self, key: str) -> object | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value: object) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value, sort_keys=True))
        )

    def recover(self, *, segment_exists) -> dict[str, int]:
        """Make the ledger agree with the WARC folder after a kill; see the module docstring.

        ``segment_exists(name)`` says whether the completed WARC file ``name`` is on disk.
        Returns counts of what was rolled forward and what was requeued.
        """
        rolled = requeued = 0
        with self._transaction():
            for seq, name in self._db.execute("SELECT seq, name FROM segments WHERE status = 'open'").fetchall():
                if segment_exists(name):
                    rolled += self._db.execute(
                        "UPDATE urls SET status = 'done' WHERE status = 'written' AND segment = ?", (seq,)
                    ).rowcount
                    self._db.execute("UPDATE segments SET status = 'complete' WHERE seq = ?", (seq,))
                else:
                    requeued += self._db.execute(
                        "UPDATE urls SET status = 'queued', segment = NULL, "
                        "http_status = NULL WHERE status = 'written' AND segment = ?",
                        (seq,),
                    ).rowcount
                    self._db.execute("DELETE FROM segments WHERE seq = ?", (seq,))
            requeued += self._db.execute("UPDATE urls SET status = 'queued' WHERE status = 'fetching'").rowcount
        return {"num_rolled_forward": rolled, "num_requeued": requeued}

    # -- queue -----------------------------------------------------------------------------
    def add(self, urls: list[str], *, depth: int, hops: int = 0, priority: int = 1) -> int:
        """Queue ``urls`` that are not known yet; return how many were new."""
        if not urls:
            return 0
        before = self._db.total_changes
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO urls (url, host, depth, hops, priority) VALUES (?, ?, ?, ?, ?)",
                [(u, host_key(u), depth, hops, priority) for u in urls],
            )
        return self._db.total_changes - before

    def claim(self, *, exclude_hosts: set[str] | frozenset[str] = frozenset()) -> FrontierEntry | None:
        """Take the next queued URL whose host is not in ``exclude_hosts`` (redirects first, then FIFO)."""
        sql = "SELECT id, url, depth, hops FROM urls WHERE status = 'queued'"
        args: list = []
        if exclude_hosts:
            sql += f" AND host NOT IN ({','.join('?' * len(exclude_hosts))})"
            args.extend(sorted(exclude_hosts))
        row = self._db.execute(sql + " ORDER BY priority, id LIMIT 1", args).fetchone()
        if row is None:
            return None
        self._db.execute("UPDATE urls SET status = 'fetching' WHERE id = ?", (row[0],))
        return FrontierEntry(url=row[1], depth=row[2], hops=row[3])

    def release(self, url: str) -> None:
        """Put a claimed URL back in the queue (the page budget ran out before fetching it)."""
        self._db.execute("UPDATE urls SET status = 'queued' WHERE url = ? AND status = 'fetching'", (url,))

    def num_queued(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM urls WHERE status = 'queued'").fetchone()[0]

    def num_fetched(self) -> int:
        """URLs fetched or being fetched, over all runs (what ``max_pages`` limits)."""
        marks = ",".join("?" * len(FETCHED_STATUSES))
        return self._db.execute(f"SELECT COUNT(*) FROM urls WHERE status IN ({marks})", FETCHED_STATUSES).fetchone()[0]

    # -- outcomes --------------------------------------------------------------------------
    def mark_written(self, url: str, *, segment: int, http_status: int) -> None:
        self._db.execute(
            "UPDATE urls SET status = 'written', segment = ?, http_status = ? WHERE url = ?",
            (segment, http_status, url),
        )

    def mark_failed(self, url: str, *, reason: str, http_status: int | None = None) -> None:
        self._db.execute(
            "UPDATE urls SET status = 'failed', reason = ?, http_status = ? WHERE url = ?", (reason, http_status, url)
        )

    def mark_disallowed(self, url: str, *, reason: str) -> None:
        self._db.execute("UPDATE urls SET status = 'disallowed', reason = ? WHERE url = ?", (reason, url))

    # -- WARC segments ---------------------------------------------------------------------
    def open_segment(self, name_for_seq) -> tuple[int, str]:
        """Register a new open segment; ``name_for_seq(seq)`` gives its file name."""
        row = self._db.execute("SELECT MAX(seq) FROM segments").fetchone()
        seq = (row[0] if row[0] is not None else -1) + 1
        name = name_for_seq(seq)
        self._db.execute("INSERT INTO segments (seq, name, status) VALUES (?, ?, 'open')", (seq, name))
        return seq, name

    def commit_segment(self, seq: int) -> int:
        """The segment's file is complete: its URLs become ``done``; return how many."""
        with self._transaction():
            n = self._db.execute(
                "UPDATE urls SET status = 'done' WHERE status = 'written' AND segment = ?", (seq,)
            ).rowcount
            self._db.execute("UPDATE segments SET status = 'complete' WHERE seq = ?", (seq,))
        return n

    def drop_segment(self, seq: int) -> None:
        """Forget an open segment that received no records."""
        self._db.execute("DELETE FROM segments WHERE seq = ? AND status = 'open'", (seq,))

    def completed_segments(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM segments WHERE status = 'complete' ORDER BY seq")]

    # -- hosts -----------------------------------------------------------------------------
    def sitemaps_done(self, host: str) -> bool:
        row = self._db.execute("SELECT sitemaps_done FROM hosts WHERE host = ?", (host,)).fetchone()
        return bool(row and row[0])

    def mark_sitemaps_done(self, host: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO hosts (host, sitemaps_done) VALUES (?, 1)", (host,))

    # -- reporting -------------------------------------------------------------------------
    def status_counts(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT status, COUNT(*) FROM urls GROUP BY status ORDER BY status"))

    def reason_counts(self) -> dict[str, int]:
        counts: Counter = Counter()
        for status, reason, n in self._db.execute(
            "SELECT status, reason, COUNT(*) FROM urls WHERE reason IS NOT NULL GROUP BY status, reason"
        ):
            counts[f"{status}/{reason}"] += n
        return dict(sorted(counts.items()))

    def urls_with_status(self, status: str) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT url FROM urls WHERE status = ? ORDER BY id", (status,))]
