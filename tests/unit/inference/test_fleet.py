"""What the hub and its Ray fleet exchange: signed pickles, and model ids that round-trip."""

from __future__ import annotations

import pytest

from hugbox.inference import fleet
from hugbox.inference.worker.process import Outcome

KEY = fleet.fleet_key(b"s" * 32)


def test_frames_and_events_round_trip_under_the_fleet_key() -> None:
    reply = fleet.Reply(Outcome(3, True, [{"label": "pos"}]), loaded_s=1.5)
    assert fleet.unpack(KEY, fleet.pack(KEY, reply)) == reply
    assert fleet.read_event(KEY, fleet.event(KEY, "tok").strip()) == "tok"


def test_a_frame_not_signed_with_the_fleet_key_is_never_unpickled() -> None:
    frame = fleet.pack(fleet.fleet_key(b"other" * 8), fleet.Loading(3.0))
    for bad in (frame, b"", fleet.pack(KEY, 1)[:-1] + b"\0"):
        with pytest.raises(fleet.FrameError):
            fleet.unpack(KEY, bad)


def test_model_ids_name_repo_commit_and_task() -> None:
    model_id = fleet.model_id("org/name", "a" * 40, "text-generation")
    assert fleet.parse_model_id(model_id) == ("org/name", "a" * 40, "text-generation")
    assert fleet.estimate_load_s(200_000_000, elapsed_s=1.0) == pytest.approx(5.0)
