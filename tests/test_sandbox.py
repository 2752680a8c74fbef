"""Tests of the supervised worker process behind the extract time limit (hanforge.corpus.sandbox)."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time

import pytest

from hanforge.corpus.sandbox import SupervisedWorker, WorkerCallError, WorkerCrashed, WorkerTimeout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) is not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def hang_on_minus_one(x: int) -> int:
    if x < 0:
        while True:  # a parser that never returns, not even to the Python interpreter
            time.sleep(3600)
    if x == 0:
        raise ZeroDivisionError("zero")
    return x * 2


def test_answers_times_out_restarts_and_reports_errors():
    with SupervisedWorker(hang_on_minus_one, timeout_s=0.3) as worker:
        assert worker.call(21) == 42
        first = worker.pid
        assert first is not None and first != os.getpid()
        started = time.monotonic()
        with pytest.raises(WorkerTimeout):
            worker.call(-1)
        assert time.monotonic() - started < 30
        assert worker.pid is None and not _alive(first)  # killed and reaped
        assert worker.call(5) == 10  # a fresh child
        assert worker.num_restarts == 1
        with pytest.raises(WorkerCallError) as err:
            worker.call(0)
        assert err.value.type_name == "ZeroDivisionError"
        assert worker.call(1) == 2  # an exception in fn does not cost the child
        second = worker.pid
    assert not _alive(second)


def test_a_crashing_child_is_reported_and_replaced():
    def die(x: int) -> int:
        if x == 13:
            os.kill(os.getpid(), signal.SIGKILL)
        return x

    with SupervisedWorker(die, timeout_s=30) as worker:
        with pytest.raises(WorkerCrashed):
            worker.call(13)
        assert worker.call(7) == 7


def test_pickles_unstarted_and_rejects_a_bad_limit():
    worker = SupervisedWorker(hang_on_minus_one, timeout_s=1)
    worker.call(1)
    copy = pickle.loads(pickle.dumps(worker))
    assert copy.pid is None and copy.call(2) == 4
    copy.close()
    worker.close()
    with pytest.raises(ValueError):
        SupervisedWorker(hang_on_minus_one, timeout_s=0)


def test_child_dies_with_its_parent(tmp_path):
    # A parent that is SIGKILLed cannot clean up: PR_SET_PDEATHSIG must end the child.
    script = (
        "import sys, time\n"
        "from hanforge.corpus.sandbox import SupervisedWorker\n"
        "w = SupervisedWorker(lambda x: x, timeout_s=5)\n"
        "w.call(1)\n"
        "print(w.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(proc.stdout.readline())
    assert _alive(child)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 20
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def test_map_gives_each_argument_its_own_limit_inside_a_batch():
    with SupervisedWorker(hang_on_minus_one, timeout_s=0.3) as worker:
        outcomes = worker.map([1, 2, -1, 0, 3, -1, 4])
    assert outcomes[:2] == [2, 4] and outcomes[4] == 6 and outcomes[6] == 8
    assert isinstance(outcomes[2], WorkerTimeout) and isinstance(outcomes[5], WorkerTimeout)
    assert isinstance(outcomes[3], WorkerCallError) and outcomes[3].type_name == "ZeroDivisionError"
    assert worker.num_restarts == 2
