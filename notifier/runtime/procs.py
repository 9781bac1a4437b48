"""Child processes that never outlive the notifier process that started them."""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM, parent: int | None = None) -> None:
    """Run in a child before exec: it gets ``sig`` when its parent dies, even by SIGKILL (Linux).

    With ``parent`` (the pid the parent had), a child whose parent died before this ran gets ``sig`` at once.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig)
    except (OSError, AttributeError):
        pass
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), sig)


def dies_with_this_process(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` (or after-fork hook) making the child get ``sig`` when this process dies.

    SIGKILL suits a child whose work is safe to cut short (the poller's writes are transactions, a
    delivery cut short is sent again): it must not linger finishing a delivery for a parent that is gone.
    """
    return functools.partial(die_with_parent, sig, os.getpid())


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> None:
    """Send ``sig`` and wait for the process to exit; SIGKILL it if it has not after ``timeout_s``."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
