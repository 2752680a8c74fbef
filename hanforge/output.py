"""One contract for the folders hanforge writes: claim, lock, finished, finish.

Every job that writes an output folder (``run``, ``dedup``, ``mix``, ``tokenize``, ``tokenizer
train|extend``) goes through :class:`JobOutput`::

    job = JobOutput(folder, what="run", marker=fingerprint, owns=("shards/**", "stats.json"))
    state = job.claim(overwrite=args.overwrite)   # "fresh", "resume" or "finished"; holds the lock
    ...write...
    job.finish()                                   # records the files hanforge wrote
    job.release()                                  # (or use ``with job.claim(...)``)

The folder's record, ``<folder>/.hanforge-job.json``, holds the job's marker (what must match
for a rerun to resume), whether it finished, the files hanforge wrote there (``owned``) and the
files that were there before hanforge claimed it (``foreign``). ``overwrite`` deletes only owned
files; a file hanforge did not write is never deleted, and a foreign file where the job writes
(a name it owns, or inside one of its data folders such as ``shards/``) refuses the claim
instead (it would be overwritten or read as output).

``claim`` checks everything before it writes anything, so a refused job leaves the folder as it
was (or absent). It then takes an exclusive POSIX record lock (``fcntl.lockf``) on
``<folder>/.hanforge.lock`` (the pid inside names the holder; the kernel drops the lock when the
process dies and forked children never inherit it, so a killed run never leaves a stale lock),
and a second writer is refused with :class:`OutputBusyError`.
Temporaries are named per process (``*.tmp-<pid>``, :mod:`hanforge.atomic`); under the lock,
those of dead processes are removed.
"""

from __future__ import annotations

import errno
import fcntl
import fnmatch
import json
import os
from pathlib import Path
from typing import Any, Literal

from hanforge.atomic import TMP_MARKER, atomic_write_json
from hanforge.errors import IncompleteRunError, OutputBusyError, OutputError

__all__ = ["SUBMITTED", "IncompleteRunError", "JobOutput", "OutputBusyError", "OutputError"]

RECORD = ".hanforge-job.json"
LOCK = ".hanforge.lock"
#: The state name every verb uses when work was handed to Slurm and the command must be rerun.
SUBMITTED = "submitted"

ClaimState = Literal["fresh", "resume", "finished"]


def _files(folder: Path) -> list[str]:
    """Relative paths of the regular files below ``folder`` (sorted), the job record excluded."""
    if not folder.is_dir():
        return []
    out = []
    for path in folder.rglob("*"):
        if path.is_file() or path.is_symlink():
            rel = path.relative_to(folder).as_posix()
            if rel not in (RECORD, LOCK):
                out.append(rel)
    return sorted(out)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _marker_json(marker: Any) -> Any:
    return json.loads(json.dumps(marker, default=str, sort_keys=True))


class JobOutput:
    """The output folder of one hanforge job (see the module docstring).

    ``what`` names the job in messages ("run", "dedup run", "mix", ...). ``marker`` is what must
    match for a rerun to resume (config and input fingerprints). ``owns`` are glob patterns
    (relative to the folder, ``**`` for any depth) of the files the job writes: only files
    matching them are ever recorded as hanforge's. ``data_dirs`` are subfolders whose every file
    must be hanforge's (they are read back as output).
    """

    def __init__(
        self, folder: str | Path, *, what: str, marker: Any, owns: tuple[str, ...], data_dirs: tuple[str, ...] = ()
    ) -> None:
        self.folder = Path(folder)
        self.what = what
        self.marker = _marker_json(marker)
        self.owns = owns
        self.data_dirs = data_dirs
        self._lock_fd: int | None = None

    # -- reading ------------------------------------------------------------------------------
    def record(self) -> dict[str, Any] | None:
        """The folder's job record, or None (no record, or unreadable)."""
        try:
            data = json.loads((self.folder / RECORD).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def finished(self) -> dict[str, Any] | None:
        """The record of a finished run of this very job (same marker), else None."""
        rec = self.record()
        if rec and rec.get("finished") and rec.get("marker") == self.marker:
            return rec
        return None

    def _is_owned_name(self, rel: str) -> bool:
        return any(fnmatch.fnmatchcase(rel, pattern) for pattern in self.owns)

    def owned_files(self, rec: dict[str, Any] | None = None) -> list[str]:
        """Files below the folder that hanforge wrote (and may delete)."""
        rec = rec if rec is not None else self.record()
        if rec is None:
            return []
        present = _files(self.folder)
        foreign = set(rec.get("foreign", []))
        if rec.get("finished"):
            listed = set(rec.get("owned", []))
            # files written after the record was made (a resumed job) match the patterns too
            return [p for p in present if p in listed]
        return [p for p in present if p not in foreign and self._is_owned_name(p)]

    # -- the contract -------------------------------------------------------------------------
    def check(self, *, overwrite: bool) -> ClaimState:
        """What :meth:`claim` would do, or the OutputError it would raise; writes nothing."""
        folder = self.folder
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"output {folder} is a file, not a folder; pick another --output")
        present = _files(folder)
        rec = self.record()
        if rec is None:
            if present and not overwrite:
                shown = ", ".join(present[:3]) + (", ..." if len(present) > 3 else "")
                raise OutputError(
                    f"output folder {folder} is not empty and was not written by hanforge ({shown}); "
                    "pick another --output, or pass --overwrite to write beside these files "
                    "(hanforge never deletes files it did not write)"
                )
            foreign = present
        else:
            owned = set(self.owned_files(rec))
            foreign = [p for p in present if p not in owned]
            if rec.get("what") != self.what and not overwrite:
                raise OutputError(
                    f"output folder {folder} holds a hanforge {rec.get('what')}, not a {self.what}; "
                    "pick another --output, or pass --overwrite to replace hanforge's files there"
                )
            if rec.get("marker") != self.marker and not overwrite:
                raise OutputError(
                    f"output folder {folder} holds a {self.what} with a different config or inputs; "
                    "pick another --output, or pass --overwrite to replace hanforge's files there"
                )
        clash = [
            p
            for p in foreign
            if self._is_owned_name(p) or any(p.startswith(d.rstrip("/") + "/") for d in self.data_dirs)
        ]
        if clash:
            raise OutputError(
                f"output folder {folder}: {clash[0]} was not written by hanforge but is where this "
                f"{self.what} writes or reads its output; move it out of the folder or pick another "
                "--output (hanforge never deletes files it did not write)"
            )
        if rec is None or overwrite or rec.get("marker") != self.marker:
            return "fresh"
        return "finished" if rec.get("finished") else "resume"

    def claim(self, *, overwrite: bool = False) -> ClaimState:
        """Check, lock, and make the folder ready; returns "fresh", "resume" or "finished".

        "fresh": any earlier hanforge files of this folder were deleted (``overwrite``, or no
        earlier run); "resume": an unfinished run of the same job is continued; "finished": the
        same job already finished (the caller returns its result). The lock is held until
        :meth:`release` (or the end of the ``with`` block, or the process).
        """
        self.check(overwrite=overwrite)  # before anything is written
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            state = self.check(overwrite=overwrite)  # again, now that no one else writes here
            rec = self.record()
            if state == "fresh":
                owned = self.owned_files(rec) if rec is not None else []
                for rel in owned:
                    (self.folder / rel).unlink(missing_ok=True)
                self._remove_empty_dirs()
                foreign = _files(self.folder)
            else:
                foreign = rec.get("foreign", []) if rec else []
            self._remove_dead_temporaries()
            if state != "finished":
                self._write_record(finished=False, foreign=foreign, owned=[])
        except BaseException:
            self.release()
            raise
        return state

    def finish(self, **info: Any) -> None:
        """Record the job as finished, listing the files hanforge wrote (``info`` is kept too)."""
        rec = self.record() or {}
        foreign = rec.get("foreign", [])
        present = _files(self.folder)
        owned = [p for p in present if p not in set(foreign) and self._is_owned_name(p)]
        self._write_record(finished=True, foreign=foreign, owned=owned, **info)

    def release(self) -> None:
        """Drop the lock (the lock file stays: removing it would race with a new writer)."""
        if self._lock_fd is not None:
            os.ftruncate(self._lock_fd, 0)  # no pid left behind: a finished folder is byte-stable
            fcntl.lockf(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> JobOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- internals ----------------------------------------------------------------------------
    def _write_record(self, **fields: Any) -> None:
        atomic_write_json(self.folder / RECORD, {"what": self.what, "marker": self.marker, **fields})

    def _lock(self) -> None:
        fd = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            # a POSIX record lock belongs to this process only: children forked by datatrove (its
            # Manager process may outlive a killed run) do not inherit it, so it never goes stale
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                os.close(fd)
                raise
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise OutputBusyError(
                f"output folder {self.folder} is being written by another hanforge process "
                f"(pid {holder}); wait for it to finish or pick another --output"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _remove_empty_dirs(self) -> None:
        for path in sorted((p for p in self.folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            if not any(path.iterdir()):
                path.rmdir()

    def _remove_dead_temporaries(self) -> None:
        """Delete ``*.tmp-<pid>`` files of processes that are gone (ours are running)."""
        for path in self.folder.rglob(f"*{TMP_MARKER}*"):
            if not path.is_file():
                continue
            pid = path.name.rsplit(TMP_MARKER, 1)[1]
            if pid.isdigit() and int(pid) != os.getpid() and _pid_alive(int(pid)):
                continue
            path.unlink(missing_ok=True)
