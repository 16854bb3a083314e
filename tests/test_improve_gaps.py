"""Gaps: out-of-scope requests with a common theme are clustered and reported, never promoted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from router_fixtures import write_routable_catalog, write_router_config

from nova.improve import ImproveError, accept, improve, pending_candidates, reject
from nova.improve.gaps import cluster, theme
from nova.ledger.feedback import FeedbackLedger

LIGHTS = [
    "Turn off the lights in the kitchen",
    "Switch the living room lights on",
    "Dim the bedroom lights to half",
    "Are the garage lights still on?",
]
OTHERS = ["Book a flight to Rome for Tuesday", "What's my blood pressure trend this month?"]


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    root = tmp_path / "small"
    folder = write_routable_catalog(root / "agents", examples=5)
    write_router_config(root / "router.yaml")
    return folder


def test_cluster_groups_requests_by_meaning() -> None:
    groups = cluster([*LIGHTS, *OTHERS])
    # The largest group is (most of) the lights; the unrelated requests stay apart.
    assert len(groups[0]) >= 3 and set(groups[0]) <= {0, 1, 2, 3}
    assert all(len(group) == 1 for group in groups if set(group) & {4, 5})
    assert "lights" in theme(LIGHTS)


def test_out_of_scope_theme_is_reported_as_a_gap_once(catalog: Path) -> None:
    key = str(catalog.resolve())
    FeedbackLedger().import_corrections(
        [json.dumps({"text": t, "agent": None}) for t in [*LIGHTS, *OTHERS]], catalog=key
    )
    report = improve(catalog, yes=True)
    [gap] = [c for c in report.candidates if c.kind == "gap"]
    assert gap.status == "reported" and gap not in report.promoted
    [found] = gap.change["gaps"]
    assert len(found["requests"]) >= 3 and set(found["requests"]) <= set(LIGHTS)
    assert "lights" in found["theme"]
    assert gap.reason.startswith("no agent handles: ") and "lights" in gap.reason
    assert gap.id in {c.id for c in pending_candidates()}
    with pytest.raises(ImproveError, match="gap report"):
        accept(gap.id)
    reject(gap.id)  # dismissed by the owner
    assert gap.id not in {c.id for c in pending_candidates()}
    # Reported once: the same requests are not reported again.
    again = improve(catalog)
    assert [c for c in again.candidates if c.kind == "gap"] == []
