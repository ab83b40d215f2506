"""How a distributed run leaves its process group: a finished run waits at a barrier for every rank, a failed one
leaves at once (its peers may never reach the barrier), and a barrier that fails still leaves."""

from __future__ import annotations

import pytest

from scriptgen.training import distributed
from scriptgen.training.distributed import Dist, teardown


@pytest.fixture
def calls(monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(distributed.tdist, "is_initialized", lambda: True)
    monkeypatch.setattr(distributed.tdist, "barrier", lambda: seen.append("barrier"))
    monkeypatch.setattr(distributed.tdist, "destroy_process_group", lambda: seen.append("destroy"))
    return seen


def test_a_finished_run_waits_for_every_rank_then_leaves(calls):
    teardown(Dist(rank=1, world_size=2), finished=True)
    assert calls == ["barrier", "destroy"]


def test_a_failed_run_leaves_without_waiting(calls):
    teardown(Dist(rank=0, world_size=2), finished=False)
    assert calls == ["destroy"]


def test_a_barrier_broken_by_a_failed_peer_still_leaves(calls, monkeypatch):
    def broken():
        calls.append("barrier")
        raise RuntimeError("Connection closed by peer")

    monkeypatch.setattr(distributed.tdist, "barrier", broken)
    teardown(Dist(rank=0, world_size=2), finished=True)
    assert calls == ["barrier", "destroy"]


def test_one_process_has_no_group_to_leave(calls):
    teardown(Dist(), finished=True)
    assert calls == []
