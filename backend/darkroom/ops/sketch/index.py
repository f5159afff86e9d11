"""The photo index: one SQLite file (stdlib ``sqlite3``, WAL journal) per index.

Table ``photos``, one row per photo: absolute ``path`` (key), file ``size`` (bytes),
``mtime_ns``, content ``hash`` (BLAKE2b-128 of the file, hex), ``width``/``height`` (px),
``embedding`` (float16, little-endian), ``thumb`` (JPEG, longest side ``THUMB`` px) and
``model`` (the version of the sketch model the embedding came from, see
:func:`darkroom.ops.sketch.library.model_version`). Table ``meta``: ``model`` (the version of
the last run) and ``generation`` (bumped by every write; the search cache checks it).

Model versions: a row embedded by another model (an index built before an update) is never
compared with the current model's sketches. Search uses only current rows
(:func:`matrix`), and :func:`stale` lists the others so that the caller re-embeds them from
their files (with progress) before searching; an index written before rows carried a
version (no ``model`` column) gets the column on first open, every row marked stale.

Indexing is incremental and resumable: a file whose size and mtime match its row is not
read; a touched file whose hash matches keeps its embedding; deleted files under the indexed
folders are dropped. New work is committed in batches, each batch one transaction, so an
interrupted run leaves a consistent index that the next run completes.

Search keeps the whole embedding matrix in memory (float32, N×DIM) per index file and only
reloads it when the generation or the row count changes: a query is one matrix–vector
product and a partial sort.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from darkroom.errors import InvalidInput, NotFound, StorageError

SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp")
THUMB = 128

_SCHEMA = """
CREATE TABLE IF NOT EXISTS photos (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL,
    embedding BLOB NOT NULL, thumb BLOB NOT NULL, model TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class Row:
    """A photo ready to be stored (``embedding``: DIM float32)."""

    path: str
    size: int
    mtime_ns: int
    hash: str
    width: int
    height: int
    embedding: np.ndarray
    thumb: bytes
    model: str = ""


@dataclass
class Stats:
    """What an indexing run did. ``skipped`` lists ``(path, reason)``."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    reembedded: int = 0  #: rows of an older model embedded again
    skipped: list[tuple[str, str]] = field(default_factory=list)


@contextmanager
def connect(path: str | os.PathLike[str], *, create: bool = False) -> Iterator[sqlite3.Connection]:
    """An open index; :class:`NotFound` (a sentence) if it does not exist and ``create`` is off."""
    p = Path(path)
    if not create and not p.is_file():
        raise NotFound(f"There is no sketch index at '{p}': index a photo folder first.")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(str(p), timeout=30.0)
    except (OSError, sqlite3.Error) as e:
        raise _storage(p, e) from None
    try:
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: atomic, durable at checkpoints
            con.executescript(_SCHEMA)
            cols = {r[1] for r in con.execute("PRAGMA table_info(photos)")}
            if "model" not in cols:  # an index from before per-row versions: all rows stale
                with con:
                    con.execute("ALTER TABLE photos ADD COLUMN model TEXT NOT NULL DEFAULT ''")
        except sqlite3.DatabaseError as e:
            if _is_storage(e):
                raise _storage(p, e) from None
            raise InvalidInput(f"'{p.name}' is not a sketch index (or it is damaged): {e}.") from e
        try:
            yield con
        except sqlite3.OperationalError as e:
            # Every write is one transaction: a failed one is rolled back by SQLite, so the
            # index keeps what earlier batches committed.
            if _is_storage(e):
                raise _storage(p, e) from None
            raise
    finally:
        con.close()


def _is_storage(e: BaseException) -> bool:
    """SQLite's words for 'the file system refused': full disk, quota, file size limit
    (reported as an I/O error), read-only file or folder, cannot open."""
    text = str(e).lower()
    return any(w in text for w in ("full", "i/o", "readonly", "read-only", "unable to open"))


def _storage(p: Path, e: BaseException) -> StorageError:
    reason = getattr(e, "strerror", None) or str(e)
    return StorageError(
        f"Cannot write the sketch index '{p}' ({reason}): free some disk space or make the "
        "folder writable, or choose another index file. Photos indexed so far are kept.")


def file_hash(path: str | os.PathLike[str]) -> str:
    """BLAKE2b-128 of a file's bytes, hex (detects changed content behind a kept mtime)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def walk_photos(folders: list[str]) -> list[Path]:
    """Image files under ``folders`` (recursively, sorted, absolute). :class:`NotFound` names
    the first folder that does not exist."""
    out: set[Path] = set()
    for f in folders:
        root = Path(f).expanduser()
        if not root.is_dir():
            raise NotFound(f"The photo folder '{f}' does not exist.")
        for dirpath, dirnames, filenames in os.walk(root.resolve()):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for n in filenames:
                # Regular files only: opening a FIFO named like a photo would block forever.
                if n.lower().endswith(SUFFIXES) and not n.startswith(".") \
                        and (Path(dirpath) / n).is_file():
                    out.add(Path(dirpath) / n)
    return sorted(out)


def _bump(con: sqlite3.Connection) -> None:
    con.execute(
        "INSERT INTO meta(key, value) VALUES('generation', '1') ON CONFLICT(key) "
        "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
    )


def plan(con: sqlite3.Connection, files: list[Path], folders: list[str], model: str,
         stats: Stats) -> list[tuple[Path, os.stat_result, str | None]]:
    """Drop rows of deleted files; return the files that need embedding as ``(path, stat,
    known hash or None)``: new or changed files, and rows embedded by another model than
    ``model`` (hash ``None``: they must be embedded again even if the bytes are the same).
    Touched-but-same files are refreshed in place. Commits once."""
    with con:
        con.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('model', ?)", (model,))
        rows = {p: (s, m, h, v) for p, s, m, h, v in con.execute(
            "SELECT path, size, mtime_ns, hash, model FROM photos")}
        roots = [str(Path(f).expanduser().resolve()) for f in folders]
        present = {str(p) for p in files}
        gone = [p for p in rows if p not in present
                and any(p.startswith(r.rstrip(os.sep) + os.sep) for r in roots)]
        con.executemany("DELETE FROM photos WHERE path = ?", [(p,) for p in gone])
        stats.removed = len(gone)
        todo = []
        for f in files:
            try:
                st = f.stat()
            except OSError as e:
                stats.skipped.append((str(f), f"cannot be read ({e.strerror})"))
                continue
            old = rows.get(str(f))
            if old is not None and old[3] != model:
                todo.append((f, st, None))
                continue
            if old is not None and old[0] == st.st_size and old[1] == st.st_mtime_ns:
                stats.unchanged += 1
                continue
            todo.append((f, st, old[2] if old is not None else None))
        if gone:
            _bump(con)
    return todo


def stale(con: sqlite3.Connection, model: str) -> list[str]:
    """Paths of the rows embedded by another model than ``model``."""
    return [p for (p,) in con.execute("SELECT path FROM photos WHERE model != ? ORDER BY rowid",
                                      (model,))]


def relabel(con: sqlite3.Connection, old: tuple[str, ...] | list[str], model: str) -> int:
    """Mark the rows embedded under the labels ``old`` as embedded by ``model`` (the caller
    knows their embeddings are the same); the number of rows. Writes only if there are any."""
    if not old:
        return 0
    marks = ",".join("?" * len(old))
    n = con.execute(f"SELECT COUNT(*) FROM photos WHERE model IN ({marks})", tuple(old)).fetchone()[0]
    if n:
        with con:
            con.execute(f"UPDATE photos SET model = ? WHERE model IN ({marks})", (model, *old))
            _bump(con)
    return int(n)


def drop(con: sqlite3.Connection, paths: list[str]) -> None:
    """Remove rows (one transaction)."""
    with con:
        con.executemany("DELETE FROM photos WHERE path = ?", [(p,) for p in paths])
        _bump(con)


def store(con: sqlite3.Connection, rows: list[Row]) -> None:
    """Insert or replace ``rows`` in one transaction (all or nothing)."""
    with con:
        con.executemany(
            "INSERT OR REPLACE INTO photos(path, size, mtime_ns, hash, width, height, "
            "embedding, thumb, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(r.path, r.size, r.mtime_ns, r.hash, r.width, r.height,
              r.embedding.astype("<f2").tobytes(), r.thumb, r.model) for r in rows],
        )
        _bump(con)


def touch(con: sqlite3.Connection, path: str, st: os.stat_result) -> None:
    """A file whose bytes did not change but whose mtime did: record the new size/mtime."""
    with con:
        con.execute("UPDATE photos SET size = ?, mtime_ns = ? WHERE path = ?",
                    (st.st_size, st.st_mtime_ns, path))


# ---- search ----------------------------------------------------------------------------------

@dataclass
class _Matrix:
    key: tuple[str, int, str]
    paths: list[str]
    emb: np.ndarray  # (N, dim) float32


_matrices: dict[str, _Matrix] = {}
_mlock = threading.Lock()


def _state(con: sqlite3.Connection) -> tuple[str, int]:
    gen = con.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
    n = con.execute("SELECT COUNT(*) FROM photos").fetchone()[0]
    return (gen[0] if gen else "0", int(n))


def matrix(con: sqlite3.Connection, index_path: str, dim: int, model: str | None = None
           ) -> tuple[list[str], np.ndarray]:
    """Paths and the (N, dim) float32 embedding matrix of the rows embedded by ``model``
    (all rows if ``None``), cached until the index changes. Rows of another size are left
    out too (they cannot come from this model)."""
    key = (*_state(con), model or "")
    with _mlock:
        m = _matrices.get(index_path)
        if m is None or m.key != key:
            paths, blobs = [], []
            q = "SELECT path, embedding FROM photos"
            args: tuple[str, ...] = ()
            if model is not None:
                q += " WHERE model = ?"
                args = (model,)
            for p, b in con.execute(q + " ORDER BY rowid", args):
                if len(b) == 2 * dim:
                    paths.append(p)
                    blobs.append(b)
            emb = (np.frombuffer(b"".join(blobs), "<f2").reshape(len(paths), dim).astype(np.float32)
                   if paths else np.zeros((0, dim), np.float32))
            m = _Matrix(key, paths, emb)
            _matrices[index_path] = m
    return m.paths, m.emb


def top_k(emb: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores (cosine similarity, −1…1) of the ``k`` rows of ``emb`` most similar
    to the unit vector ``query``, best first."""
    sim = emb @ query.astype(np.float32)
    k = min(k, len(sim))
    if k == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    idx = np.argpartition(-sim, k - 1)[:k]
    idx = idx[np.argsort(-sim[idx], kind="stable")]
    return idx, sim[idx]


def thumbnails(con: sqlite3.Connection, paths: list[str]) -> dict[str, bytes]:
    q = f"SELECT path, thumb FROM photos WHERE path IN ({','.join('?' * len(paths))})"
    return dict(con.execute(q, paths).fetchall()) if paths else {}


ProgressCb = Callable[[float, str], None]
