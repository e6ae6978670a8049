"""A lean HTTP/1.1 client for the apps' Unix sockets (or, on Kubernetes, their Services' TCP
addresses): h11 over asyncio streams, one pool of keep-alive connections per socket. The
proxy's cost per request is mostly its client's, and a general one (httpx) spends most of it on
layers this path never needs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import h11

Headers = list[tuple[bytes, bytes]]
READ_SIZE = 64 * 1024
KEEP_IDLE = 32  # idle connections kept per app


class TcpAddress(NamedTuple):
    """An app reached over TCP: a Kubernetes Service's address, from any spaces host."""

    host: str
    port: int


Endpoint = Path | TcpAddress  # where an app answers: its Unix socket, or a TCP address


async def open_stream(endpoint: Endpoint) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if isinstance(endpoint, TcpAddress):
        return await asyncio.open_connection(endpoint.host, endpoint.port, limit=READ_SIZE)
    return await asyncio.open_unix_connection(str(endpoint), limit=READ_SIZE)


class UpstreamClosed(Exception):
    """The connection ended before a whole response came."""


@dataclass(eq=False)
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    protocol: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))
    reused: bool = False

    def reusable(self) -> bool:
        return self.protocol.our_state is h11.DONE and self.protocol.their_state is h11.DONE

    async def next_event(self) -> object:
        """The next h11 event (or PAUSED), reading from the app as needed."""
        while True:
            event = self.protocol.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await self.reader.read(READ_SIZE)
            if not data and self.protocol.their_state is h11.SEND_RESPONSE:
                raise UpstreamClosed
            self.protocol.receive_data(data)

    def close(self) -> None:
        self.writer.close()


class Pool:
    def __init__(self, socket: Endpoint):
        self.socket = socket
        self._idle: list[Connection] = []

    async def acquire(self) -> Connection:
        while self._idle:
            connection = self._idle.pop()
            if not connection.reader.at_eof():  # the app closes idle ones after a while
                connection.reused = True
                return connection
            connection.close()
        reader, writer = await open_stream(self.socket)
        return Connection(reader, writer)

    def release(self, connection: Connection) -> None:
        if connection.reusable() and len(self._idle) < KEEP_IDLE:
            connection.protocol.start_next_cycle()
            self._idle.append(connection)
        else:
            connection.close()

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


class Pools:
    """One pool per app socket, made on first use."""

    def __init__(self) -> None:
        self._pools: dict[Endpoint, Pool] = {}

    def get(self, socket: Endpoint) -> Pool:
        pool = self._pools.get(socket)
        if pool is None:
            pool = self._pools[socket] = Pool(socket)
        return pool

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


@dataclass(frozen=True)
class Request:
    method: bytes
    target: bytes
    headers: Headers
    body: AsyncIterator[bytes] | None  # None: no body


OnStart = Callable[[int, Headers], Awaitable[None]]
OnChunk = Callable[[bytes], Awaitable[None]]


async def exchange(pool: Pool, request: Request, on_start: OnStart, on_chunk: OnChunk) -> None:
    """Send `request`, then hand over the response: its head, then its body in pieces. A pooled
    connection the app closed meanwhile is replaced once, for requests without a body."""
    connection = await pool.acquire()
    try:
        try:
            await _send(connection, request)
            response = await _response_head(connection)
        except (UpstreamClosed, ConnectionError):
            if not connection.reused or request.body is not None:
                raise
            connection.close()
            connection = await pool.acquire()
            await _send(connection, request)
            response = await _response_head(connection)
        await on_start(response.status_code, list(response.headers))
        while isinstance(event := await connection.next_event(), h11.Data):
            await on_chunk(bytes(event.data))
    finally:
        with contextlib.suppress(h11.LocalProtocolError):
            pool.release(connection)


async def _send(connection: Connection, request: Request) -> None:
    headers = request.headers
    if not any(name == b"host" for name, _ in headers):
        headers = [(b"host", b"localhost"), *headers]
    if request.body is not None and not any(name == b"content-length" for name, _ in headers):
        headers = [*headers, (b"transfer-encoding", b"chunked")]
    protocol, writer = connection.protocol, connection.writer
    writer.write(protocol.send(h11.Request(method=request.method, target=request.target,
                                           headers=headers)))  # fmt: skip
    if request.body is not None:
        async for chunk in request.body:
            writer.write(protocol.send(h11.Data(data=chunk)))
            await writer.drain()
    writer.write(protocol.send(h11.EndOfMessage()))
    await writer.drain()


async def _response_head(connection: Connection) -> h11.Response:
    while True:
        event = await connection.next_event()
        if isinstance(event, h11.Response):
            return event
        if not isinstance(event, h11.InformationalResponse):  # 1xx: the real answer follows
            raise UpstreamClosed
