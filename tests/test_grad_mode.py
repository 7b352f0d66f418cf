"""Grad mode is per thread, as in PyTorch: ``no_grad`` in one thread leaves another
recording; new threads start with grad enabled; the context managers nest and restore.

The threads take turns through ``threading.Event`` s, so every interleaving tested is
forced, not hoped for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

import tconv
from tconv.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

WAIT = 10.0  # seconds; a wait that runs out means the other thread failed


def _start(fn: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    """Run ``fn`` in a new thread; its exception, if any, lands in the returned list."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # re-raised in the main thread by _join
            errors.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, errors


def _join(t: threading.Thread, errors: list[BaseException]) -> None:
    t.join(WAIT)
    assert not t.is_alive(), "the other thread did not finish"
    if errors:
        raise errors[0]


def _records_and_backpropagates() -> None:
    """A tape recorded and run in the calling thread, with the gradient checked."""
    assert is_grad_enabled()
    x = tconv.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = (x * x + tconv.autograd.exp(x)).sum()
    assert y.requires_grad and not y.is_leaf
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + np.exp(x.data))


def _records_nothing() -> None:
    assert not is_grad_enabled()
    x = tconv.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3).sum()
    assert not y.requires_grad and y.is_leaf


@pytest.mark.parametrize("holder", ["main", "worker"])
def test_no_grad_in_one_thread_does_not_stop_another(holder: str) -> None:
    inside, done = threading.Event(), threading.Event()

    def hold() -> None:  # enters no_grad, waits for the other thread to record, checks
        with no_grad():
            inside.set()
            assert done.wait(WAIT), "the recording thread did not finish"
            _records_nothing()  # still off here, after the other thread's tape ran
        assert is_grad_enabled()

    def record() -> None:  # records while the other thread is inside no_grad
        try:
            assert inside.wait(WAIT), "the holding thread did not enter no_grad"
            _records_and_backpropagates()
        finally:
            done.set()

    main, worker = (hold, record) if holder == "main" else (record, hold)
    t, errors = _start(worker)
    try:
        main()
    finally:
        inside.set()
        done.set()
        _join(t, errors)


def test_new_threads_start_with_grad_enabled() -> None:
    seen: list[bool] = []
    with no_grad():
        t, errors = _start(lambda: seen.append(is_grad_enabled()))
        _join(t, errors)
        t, errors = _start(_records_and_backpropagates)
        _join(t, errors)
    assert seen == [True]


def test_set_grad_enabled_in_one_thread_leaves_the_others() -> None:
    turned_off, checked = threading.Event(), threading.Event()

    def worker() -> None:
        set_grad_enabled(False)  # plain call: stays off in this thread only
        turned_off.set()
        assert checked.wait(WAIT)
        assert not is_grad_enabled()

    t, errors = _start(worker)
    try:
        assert turned_off.wait(WAIT)
        _records_and_backpropagates()
    finally:
        checked.set()
        _join(t, errors)


def test_a_shared_no_grad_instance_restores_each_threads_own_mode() -> None:
    shared = no_grad()
    worker_in, main_out = threading.Event(), threading.Event()

    def worker() -> None:
        with shared:
            worker_in.set()
            assert main_out.wait(WAIT)
            assert not is_grad_enabled()  # the main thread leaving did not turn it back on
        assert is_grad_enabled()

    t, errors = _start(worker)
    try:
        with shared:
            assert worker_in.wait(WAIT)
        assert is_grad_enabled()
        main_out.set()
    finally:
        worker_in.set()
        main_out.set()
        _join(t, errors)


def test_nesting_restores_each_level() -> None:
    assert is_grad_enabled()
    ng = no_grad()
    with ng:
        with ng:  # one instance, nested
            assert not is_grad_enabled()
            with enable_grad():
                assert is_grad_enabled()
                _records_and_backpropagates()
                with set_grad_enabled(False):
                    assert not is_grad_enabled()
                assert is_grad_enabled()
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_modes_are_restored_after_an_exception() -> None:
    with pytest.raises(RuntimeError), no_grad():
        raise RuntimeError
    assert is_grad_enabled()
    with no_grad():
        with pytest.raises(RuntimeError), enable_grad():
            raise RuntimeError
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_set_grad_enabled_as_call_context_and_decorator() -> None:
    try:
        set_grad_enabled(False)
        assert not is_grad_enabled()
        with set_grad_enabled(True):
            assert is_grad_enabled()
        assert not is_grad_enabled()
    finally:
        set_grad_enabled(True)
    assert is_grad_enabled()

    @set_grad_enabled(False)
    def off() -> bool:
        return is_grad_enabled()

    assert is_grad_enabled()  # decorating changes nothing
    assert off() is False
    assert is_grad_enabled()


def test_decorators_wrap_and_apply_per_call() -> None:
    @no_grad()
    def double(t: tconv.Tensor) -> tconv.Tensor:
        """Twice t."""
        return t * 2

    @enable_grad()
    def records(t: tconv.Tensor) -> tconv.Tensor:
        return t * 2

    x = tconv.tensor([1.0], requires_grad=True)
    assert double.__name__ == "double" and double.__doc__ == "Twice t."
    assert not double(x).requires_grad
    assert is_grad_enabled()
    with no_grad():
        assert records(x).requires_grad
        assert not is_grad_enabled()


def test_public_names() -> None:
    assert tconv.no_grad is no_grad and tconv.is_grad_enabled is is_grad_enabled
    for name in ("enable_grad", "set_grad_enabled", "no_grad", "is_grad_enabled"):
        assert name in tconv.autograd.__all__
