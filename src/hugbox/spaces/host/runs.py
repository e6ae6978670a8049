"""The running-space state every spaces host of a hub shares, in the database rather than one
host's memory: which host supervises (a lease), where each running app answers, the visits any
host saw, and the wakes that hosts which do not supervise ask for. Plain blocking functions,
run in threads.

One host supervises at a time because builds, starts and sleeps of one space must not race;
any host proxies, to an app's address as `space_runs.upstream` records it (a Kubernetes
Service's, reachable from every host; a Unix socket only from hosts on the same machine)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select, update

from hugbox.db import Database, utcnow
from hugbox.errors import Conflict
from hugbox.spaces.models import RunState, SpaceRun, SpaceRuntime, SpacesLease, SpaceStage
from hugbox.spaces.proxy.origin import Upstream
from hugbox.spaces.proxy.upstream import TcpAddress

LEASE = "supervisor"
LEASE_TTL_S = 15.0  # a supervising host that stops renewing is replaced after this long


def hold_lease(database: Database, host: str, ttl: float = LEASE_TTL_S) -> bool:
    """Take or renew the supervisor's lease; False while another host holds it."""
    now = utcnow()
    expires = now + timedelta(seconds=ttl)
    with database.session() as session:
        taken = session.execute(
            update(SpacesLease)
            .where(SpacesLease.name == LEASE)
            .where(or_(SpacesLease.host == host, SpacesLease.expires_at < now))
            .values(host=host, expires_at=expires)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount:  # type: ignore[attr-defined]
            return True
        if session.get(SpacesLease, LEASE) is not None:
            return False
    try:  # the first host ever: whoever inserts first holds it
        with database.session() as session:
            session.add(SpacesLease(name=LEASE, host=host, expires_at=expires))
    except Conflict:
        return False
    return True


def release_lease(database: Database, host: str) -> None:
    """A host that stops hands over at once, not after the lease's TTL."""
    with database.session() as session:
        session.execute(
            update(SpacesLease)
            .where(SpacesLease.name == LEASE, SpacesLease.host == host)
            .values(expires_at=utcnow() - timedelta(seconds=1))
            .execution_options(synchronize_session=False)
        )


def encode(upstream: Upstream) -> str:
    socket = upstream.socket
    data: dict[str, object] = {"strip": upstream.strip_prefix, "index": upstream.index_file}
    if isinstance(socket, TcpAddress):
        data["tcp"] = [socket.host, socket.port]
    elif socket is not None:
        data["unix"] = str(socket)
    if upstream.static_root is not None:
        data["static"] = str(upstream.static_root)
    return json.dumps(data)


def decode(text: str) -> Upstream:
    data = json.loads(text)
    socket: Path | TcpAddress | None = None
    if "tcp" in data:
        socket = TcpAddress(data["tcp"][0], int(data["tcp"][1]))
    elif "unix" in data:
        socket = Path(data["unix"])
    static = Path(data["static"]) if "static" in data else None
    return Upstream(socket=socket, static_root=static, index_file=data["index"],
                    strip_prefix=data["strip"])  # fmt: skip


@dataclass(frozen=True)
class Shared:
    """A space as any spaces host sees it in the database."""

    stage: SpaceStage
    state: RunState | None  # of its space_runs row, if it has one
    upstream: Upstream | None  # where its app answers, while it runs


def read_shared(database: Database, pk: int) -> Shared:
    with database.session() as session:
        runtime = session.get(SpaceRuntime, pk)
        run = session.get(SpaceRun, pk)
        stage = runtime.stage if runtime is not None else SpaceStage.NO_APP_FILE
        if run is None:
            return Shared(stage, None, None)
        running = run.state is RunState.RUNNING and run.upstream is not None
        return Shared(stage, run.state, decode(run.upstream) if running else None)  # type: ignore[arg-type]


def request_wake(database: Database, pk: int) -> None:
    """Ask the supervising host to start the space's app (it looks every tick)."""
    now = utcnow()
    with database.session() as session:
        run = session.get(SpaceRun, pk)
        if run is None:
            session.add(SpaceRun(repo_pk=pk, host="", runner="", pod="", state=RunState.WAKING,
                                 started_at=now, last_seen=now, visited_at=now))  # fmt: skip
        elif run.state is not RunState.RUNNING:
            run.state, run.visited_at = RunState.WAKING, now


def wake_requests(database: Database) -> list[int]:
    with database.session() as session:
        found = session.scalars(select(SpaceRun.repo_pk).where(SpaceRun.state == RunState.WAKING))
        return list(found)


def refuse_wake(database: Database, pk: int) -> None:
    """The space cannot run now (building, paused, broken): the asking host reads its stage."""
    with database.session() as session:
        session.execute(
            update(SpaceRun)
            .where(SpaceRun.repo_pk == pk, SpaceRun.state == RunState.WAKING)
            .values(state=RunState.STOPPED)
            .execution_options(synchronize_session=False)
        )


def answer_wake(database: Database, pk: int, upstream: str) -> None:
    with database.session() as session:
        session.execute(
            update(SpaceRun)
            .where(SpaceRun.repo_pk == pk, SpaceRun.state == RunState.WAKING)
            .values(state=RunState.RUNNING, upstream=upstream)
            .execution_options(synchronize_session=False)
        )


def note_visits(database: Database, pks: list[int]) -> None:
    with database.session() as session:
        session.execute(
            update(SpaceRun)
            .where(SpaceRun.repo_pk.in_(pks))
            .values(visited_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def visits(database: Database, pks: list[int]) -> dict[int, datetime]:
    """When each space was last visited through any host (those with a visit recorded)."""
    with database.session() as session:
        rows = session.execute(
            select(SpaceRun.repo_pk, SpaceRun.visited_at).where(SpaceRun.repo_pk.in_(pks))
        ).all()
    return {pk: at for pk, at in rows if at is not None}
