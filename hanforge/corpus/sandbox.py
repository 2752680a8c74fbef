"""A supervised worker process: call a function with a hard wall-clock limit per call.

:class:`SupervisedWorker` runs ``fn(arg)`` in a forked child process, one call at a time, and
waits at most ``timeout_s`` for the answer. When the limit expires the child is killed
(SIGKILL) and a fresh one is forked for the next call, so the limit holds whatever ``fn`` does:
a C parser that never returns to Python (resiliparse's lexbor on 100,000 nested ``<div>``s), a
library that swallows the ``SIGALRM`` exception (trafilatura on lxml 6 logs "lxml parsing
failed" and carries on), a segfault or an out-of-memory kill (the call fails, the run goes on).

Why not datatrove's ``ExtractorSandbox`` (datatrove/pipeline/extractors/base.py, 0.10.1), whose
design this follows (a long-lived child, a pipe, kill and restart on timeout): there, an
exception raised by the extractor ends the child, so every parser error costs a restart and
reaches the caller as "child process died" instead of its type (we count
``extract_error:<Type>``); the child is not tied to its parent's life (no ``PR_SET_PDEATHSIG``),
so killing a worker leaves it running; and it starts the child with the default
``multiprocessing`` start method, which becomes forkserver in Python 3.14 (the extractor is then
pickled and every import repeated in each restarted child). A bare ``os.fork`` avoids all three
in about a hundred lines.

The child is forked from the calling process, so ``fn`` (a closure, an imported parser) need
not be picklable and nothing is imported again; only ``arg`` and the result cross the pipe.
The child dies with its parent (``PR_SET_PDEATHSIG`` on Linux), so killing a worker never
leaves an orphan behind. Forking needs a POSIX system; where ``os.fork`` is missing the call
runs in-process without a limit (``SupervisedWorker.enforced`` tells which).
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import signal
import struct
import sys
import time
import warnings
import weakref
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, Pipe
from typing import Generic, TypeVar

A = TypeVar("A")
R = TypeVar("R")

_PR_SET_PDEATHSIG = 1
_PROGRESS = struct.Struct("q")  # index of the argument the child is working on
_POLL_S = 0.05  # how often the parent looks at the child's progress while it works


class WorkerTimeout(Exception):
    """The call did not answer within the time limit; the worker was killed."""


class WorkerCrashed(Exception):
    """The worker process died during the call (segfault, out of memory, killed)."""


class WorkerCallError(Exception):
    """``fn`` raised inside the worker; ``type_name`` is the original exception's class name."""

    def __init__(self, type_name: str, message: str):
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the pipe EOF below still ends the child
        pass


def _child_loop(fn: Callable, conn: Connection, parent_pid: int, progress: mmap.mmap) -> None:
    die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        return
    # SIGINT goes to the whole process group on Ctrl-C: the parent decides, not the child.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    while True:
        try:
            args = conn.recv()
        except (EOFError, OSError):
            return
        answers = []
        for i, arg in enumerate(args):
            _PROGRESS.pack_into(progress, 0, i)  # the parent times each argument from here
            try:
                answers.append(("ok", fn(arg)))
            except Exception as exc:  # noqa: BLE001 -- reported to the parent, which counts it
                answers.append(("error", type(exc).__name__, str(exc)[:500]))
        try:
            conn.send(answers)
        except (OSError, ValueError):
            return


_tie_depth = 0
_tie_parent = 0
_tie_registered = False


def _before_fork() -> None:
    global _tie_parent
    _tie_parent = os.getpid()


def _after_fork_in_child() -> None:
    global _tie_depth
    if _tie_depth > 0:
        _tie_depth = 0
        die_with_parent()
        if os.getppid() != _tie_parent:  # the parent died before prctl took effect
            os._exit(1)


@contextlib.contextmanager
def children_die_with_this_process() -> Iterator[None]:
    """While inside, every child this process forks dies when this process dies.

    For third-party helpers that hanforge does not start itself: datatrove's local executor
    forks a ``multiprocess.Manager`` server that outlived a SIGKILLed ``hanforge run`` by
    minutes. Children started by fork+exec (a forkserver) are not covered; they end on their
    own when their pipe to this process closes.
    """
    global _tie_depth, _tie_registered
    if not _tie_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
        _tie_registered = True
    _tie_depth += 1
    try:
        yield
    finally:
        _tie_depth -= 1


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


class SupervisedWorker(Generic[A, R]):
    """Run ``fn(arg)`` in a child process with a per-call wall-clock limit (see module docstring).

    ``call(arg)`` returns ``fn(arg)`` or raises :class:`WorkerTimeout`, :class:`WorkerCrashed`
    or :class:`WorkerCallError`. The child starts on the first call and after every kill; use
    the worker as a context manager (or call :meth:`close`) to end it; it is also ended when
    the worker is garbage-collected or the process exits.
    """

    def __init__(self, fn: Callable[[A], R], *, timeout_s: float):
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.fn = fn
        self.timeout_s = float(timeout_s)
        self.enforced = hasattr(os, "fork")
        self.num_restarts = 0
        self._pid: int | None = None
        self._conn: Connection | None = None
        self._finalizer: weakref.finalize | None = None
        self._progress: mmap.mmap | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while one is running."""
        return self._pid

    def _start(self) -> None:
        parent_conn, child_conn = Pipe(duplex=True)
        self._progress = mmap.mmap(-1, _PROGRESS.size)  # anonymous, shared with the child
        parent_pid = os.getpid()
        sys.stdout.flush()
        sys.stderr.flush()
        with warnings.catch_warnings():
            # Python >= 3.12 warns about fork() in a threaded process; the child only runs
            # ``fn`` and the pipe, never a lock another thread could hold (logging locks are
            # reinitialised at fork by the standard library).
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                parent_conn.close()
                _child_loop(self.fn, child_conn, parent_pid, self._progress)
            except BaseException:  # noqa: BLE001 -- never return into the parent's code
                code = 1
            finally:
                os._exit(code)
        child_conn.close()
        self._pid, self._conn = pid, parent_conn
        self._finalizer = weakref.finalize(self, _end_child, pid, parent_conn, parent_pid)

    def _stop(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._pid, self._conn, self._finalizer = None, None, None

    def call(self, arg: A) -> R:
        """``fn(arg)`` computed in the child, within ``timeout_s`` seconds."""
        (outcome,) = self.map([arg])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def map(self, args: list[A]) -> list[R | WorkerTimeout | WorkerCrashed | WorkerCallError]:
        """``fn`` of each argument, in order; a failed call's entry is its exception (not raised).

        The arguments travel in one message and the answers come back one by one, so a batch
        costs one round trip, not one per argument (about 0.2-0.7 ms of CPU per round trip on
        a busy 2-core VM, as much as extracting a small page). Each argument gets its own
        ``timeout_s``, counted from the previous answer; after a timeout or a crash the
        child is replaced and the remaining arguments go to the new one.
        """
        if not self.enforced:
            return self.call_here(self.fn, args)
        outcomes: list = [None] * len(args)
        todo = list(range(len(args)))  # positions still without an outcome
        while todo:
            if self._pid is None:
                self._start()
            conn = self._conn
            assert conn is not None
            _PROGRESS.pack_into(self._progress, 0, -1)
            try:
                conn.send([args[j] for j in todo])
            except (OSError, EOFError) as exc:  # the child died while idle: blame the first
                self._replace()
                outcomes[todo.pop(0)] = WorkerCrashed(str(exc))
                continue
            answers, failure = self._wait(conn)
            if answers is not None:
                for j, answer in zip(todo, answers, strict=True):
                    outcomes[j] = answer
                break
            # Lost while working on argument k: it gets the failure; the answers of those before
            # it went down with the child, so the next child computes them again.
            k = max(_PROGRESS.unpack_from(self._progress, 0)[0], 0)
            self._replace()
            outcomes[todo.pop(k)] = failure
        return outcomes

    def _wait(self, conn: Connection):
        """(answers, None) when the batch came back; (None, failure) when the child was lost."""
        seen, since = -1, time.monotonic()
        while True:
            try:
                if conn.poll(min(_POLL_S, self.timeout_s)):
                    answers = conn.recv()
                    return [a[1] if a[0] == "ok" else WorkerCallError(a[1], a[2]) for a in answers], None
            except (OSError, EOFError) as exc:
                return None, WorkerCrashed(str(exc) or "worker process died")
            now = time.monotonic()
            current = _PROGRESS.unpack_from(self._progress, 0)[0]
            if current != seen:
                seen, since = current, now
            elif now - since >= self.timeout_s:
                return None, WorkerTimeout(f"no answer within {self.timeout_s} s")

    @staticmethod
    def call_here(fn: Callable[[A], R], args: list[A]) -> list[R | WorkerCallError]:
        """:meth:`map`'s outcomes computed in this process, without any limit."""
        outcomes: list = []
        for arg in args:
            try:
                outcomes.append(fn(arg))
            except Exception as exc:  # noqa: BLE001 -- same contract as the forked path
                outcomes.append(WorkerCallError(type(exc).__name__, str(exc)))
        return outcomes

    def _replace(self) -> None:
        self._stop()
        self.num_restarts += 1

    def close(self) -> None:
        """End the child process (if any); a later call starts a new one."""
        self._stop()

    def __enter__(self) -> SupervisedWorker[A, R]:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __getstate__(self) -> dict:
        # A worker travels to executor processes unstarted; the child belongs to one process.
        state = self.__dict__.copy()
        state.update(_pid=None, _conn=None, _finalizer=None, _progress=None)
        return state


def _end_child(pid: int, conn: Connection, owner_pid: int) -> None:
    if os.getpid() != owner_pid:  # only the process that forked the child may end it
        return
    try:
        conn.close()
    except OSError:
        pass
    _kill(pid)
