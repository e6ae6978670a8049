"""A space's sleep time: seconds that fit the column, or -1; anything else is a 400 that
changes nothing (the fuzz once sent 6e21 seconds and got a 500 from the database)."""

from __future__ import annotations

import pytest
from builders import Builder
from sqlalchemy.orm import Session

from hugbox.errors import BadRequest
from hugbox.repos.models import RepoType
from hugbox.spaces import service

BAD = [-2, -3600, service.LONGEST_SLEEP + 1, 6304813500999078510592]


@pytest.mark.parametrize("seconds", [-1, 0, 300, service.LONGEST_SLEEP])
def test_a_sleep_time_that_fits_is_kept(build: Builder, session: Session, seconds: int) -> None:
    space = build.repo(build.user("alice"), "app", repo_type=RepoType.SPACE)
    service.set_sleep_time(session, space, seconds)
    session.flush()
    assert service.runtime_of(session, space).sleep_time == seconds


@pytest.mark.parametrize("seconds", BAD)
def test_a_sleep_time_out_of_range_is_refused(
    build: Builder, session: Session, seconds: int
) -> None:
    space = build.repo(build.user("alice"), "app", repo_type=RepoType.SPACE)
    before = service.runtime_of(session, space).sleep_time
    with pytest.raises(BadRequest, match="-1 to never sleep"):
        service.set_sleep_time(session, space, seconds)
    with pytest.raises(BadRequest, match="-1 to never sleep"):
        service.request_hardware(session, space, flavor="cpu-basic", sleep=seconds)
    session.flush()
    assert service.runtime_of(session, space).sleep_time == before
