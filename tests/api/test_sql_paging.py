"""Pages counted and cut in SQL give exactly the answer of paging the whole DataFrame (the former way)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from fabmind.api.paging import page_of
from fabmind.services import records
from fabmind.services.alarms import alarm_page, list_alarms
from fabmind.services.fab import fab_overview, run_page


def _same(a, b) -> bool:
    return json.dumps(a) == json.dumps(b)  # order of keys and items included


def test_run_pages_match_the_dataframe(demo_store):
    runs = demo_store.runs()
    first = runs["start"].min()
    cases = [
        {}, {"limit": 7, "offset": 30}, {"offset": len(runs) - 3}, {"offset": len(runs) + 5},
        {"chamber_id": runs["chamber_id"].iloc[0], "limit": 5, "offset": 2},
        {"lot_id": runs["lot_id"].iloc[40]},
        {"start": (first + timedelta(hours=20)).to_pydatetime(), "end": (first + timedelta(hours=30)).to_pydatetime(),
         "limit": 50, "offset": 3},
        {"start": (first + timedelta(days=1)).to_pydatetime().replace(tzinfo=None)},  # naive = UTC
    ]
    for kw in cases:
        limit, offset = kw.pop("limit", 100), kw.pop("offset", 0)
        expected = page_of(demo_store.runs(**kw), limit, offset)
        got = run_page(demo_store, limit=limit, offset=offset, **kw)
        assert _same(got, expected), kw


@pytest.mark.parametrize("kw", [{}, {"state": ["raised"]}, {"state": ["acknowledged", "cleared"]}, {"limit": 3, "offset": 4}])
def test_alarm_pages_match_the_dataframe(demo_store, kw):
    limit, offset = kw.get("limit", 100), kw.get("offset", 0)
    expected = records(list_alarms(demo_store, state=kw.get("state")))
    got = alarm_page(demo_store, state=kw.get("state"), limit=limit, offset=offset)
    assert got["total"] == len(expected)
    assert [a["alarm_id"] for a in got["items"]] == [a["alarm_id"] for a in expected[offset:offset + limit]]
    assert all(isinstance(a["ts"], str) and a["ts"].endswith("+00:00") for a in got["items"])


def test_overview_counts_match_the_alarm_table(demo_store):
    ov = fab_overview(demo_store)
    open_alarms = demo_store.alarms(state=["raised", "acknowledged"])
    assert ov["open_alarms"] == len(open_alarms)
    assert ov["chambers"] == len(demo_store.chambers_frame())
    per_chamber = open_alarms.groupby("chamber_id").size().to_dict()
    for area in ov["areas"]:
        for tool in area["tools"]:
            for ch in tool["chambers"]:
                assert ch["open_alarms"] == per_chamber.get(ch["chamber_id"], 0)


def test_runs_route_pages(client, auth, demo_store):
    total = len(demo_store.runs())
    body = client.get("/api/runs", params={"limit": 3, "offset": 5}, headers=auth("viewer")).json()
    assert body["total"] == total and len(body["items"]) == 3 and body["offset"] == 5
    assert body["items"][0]["run_id"] == demo_store.runs()["run_id"].iloc[5]
