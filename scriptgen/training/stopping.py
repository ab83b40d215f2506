"""Stopping a training run cleanly: Ctrl-C, SIGTERM and SIGHUP end it between two steps, with a save.

``kill``, systemd, Slurm and Docker send SIGTERM; closing a terminal sends
SIGHUP; Ctrl-C sends SIGINT.  A signal only sets a flag that the training loop
checks after each step, so it never lands inside a save or an optimizer step;
the loop then saves and the command prints how to resume.  A second Ctrl-C
quits at once (the last complete save stays on disk).

    with stop_on_signals(folder) as stop:
        while not stop.is_set():
            ...
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# why a run stops, weakest first: processes that disagree (a signal on one, the budget on another) take the strongest
STOP_REASONS = ("", "interrupted", "time budget", "patience", "epochs")


def stop_reason(state, cfg, signalled: bool) -> str:
    """Why a run in ``state`` under ``cfg`` must stop now ("" while it goes on); reaching an end comes before a
    signal."""
    if state.epoch >= cfg.epochs:
        return "epochs"
    if cfg.patience and state.stale >= cfg.patience:
        return "patience"
    if cfg.max_minutes and state.elapsed >= cfg.max_minutes * 60.0:
        return "time budget"
    return "interrupted" if signalled else ""


def agreed_reason(state, cfg, signalled: bool, dist) -> str:
    """:func:`stop_reason`, the same on every process of ``dist`` (the strongest of theirs; a collective call)."""
    reason = stop_reason(state, cfg, signalled)
    if not dist.enabled:
        return reason
    return STOP_REASONS[int(dist.max(STOP_REASONS.index(reason)))]


@contextmanager
def stop_on_signals(folder: Path) -> Iterator[threading.Event]:
    """An event set by the first stop signal; the previous handlers come back afterwards.

    Outside the main thread signals cannot be caught, and the event stays unset.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        # os.write, not print: the signal may arrive while the loop is printing (print is not reentrant)
        if stop.is_set() and signum == signal.SIGINT:
            say_raw(f"scriptgen: quitting at once; resume from the last save with: scriptgen train --resume {folder}\n")
            raise KeyboardInterrupt
        stop.signum = signum
        stop.set()
        what = "Ctrl-C again to quit at once" if signum == signal.SIGINT else "then exiting"
        say_raw(f"scriptgen: {signal.Signals(signum).name} received; stopping after this step and saving ({what})\n")

    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


def say_raw(message: str) -> None:
    """Write to stderr from a signal handler (no buffered, non-reentrant print)."""
    try:
        os.write(sys.stderr.fileno(), message.encode())
    except (OSError, ValueError, AttributeError):  # no file descriptor (a notebook's stream)
        try:
            print(message, end="", file=sys.stderr, flush=True)
        except RuntimeError:  # reentrant call: the flag still works without the message
            pass
