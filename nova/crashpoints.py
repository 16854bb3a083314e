"""Crash points: test-only places where a process kills itself with SIGKILL, to test recovery.

A crash test must stop the server at an exact point of a write (after the approval but
before the transaction, after the commit but before the checkpoint), which no timing of an
outside ``kill -9`` can hit reliably. The write path calls ``crash_point("<name>")`` at each
such point; it does nothing unless ``NOVA_TEST_CRASH_AT`` names that point.

``NOVA_TEST_CRASH_AT=<name>:<marker file>``: the first process to reach ``<name>`` creates
the marker file (atomically, so only once across restarts and workers), writes the point's
name into it, and sends itself SIGKILL, exactly as an OOM kill or a power cut would stop
it: no ``finally`` block, no rollback handler, no flush runs. Later arrivals (the run
resumed after the restart) find the marker and go on. Never set it outside tests.

Points in Nova's code (``nova.erp.approval``):

* ``erp.approved``: the approval was received, the write transaction has not started;
* ``erp.committed``: the write transaction committed, the node has not returned, so no
  checkpoint records that the write happened.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "NOVA_TEST_CRASH_AT"


def crash_point(name: str) -> None:
    """SIGKILL this process if ``NOVA_TEST_CRASH_AT`` names ``name`` and it has not crashed yet."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    point, _, marker = spec.partition(":")
    if point != name or not marker:
        return
    try:
        descriptor = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return  # crashed here once already: this is the recovery going past the point
    os.write(descriptor, f"{name} pid {os.getpid()}\n".encode())
    os.fsync(descriptor)
    os.close(descriptor)
    os.kill(os.getpid(), signal.SIGKILL)
