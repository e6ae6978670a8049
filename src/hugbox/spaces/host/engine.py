"""A small client of the Docker Engine API (Docker, or podman's `podman system service`) over its
Unix socket: the few calls that run space containers, import the base image and build images."""

from __future__ import annotations

import json
import struct
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

API_VERSION = "v1.41"  # Docker 20.10 and podman 4 both speak it
_FRAME = struct.Struct(">BxxxI")  # stream (1 stdout, 2 stderr), 3 zero bytes, payload size


class EngineError(Exception):
    """The engine refused a call, or could not be reached."""


def socket_path(host: str) -> str:
    """`unix:///run/podman/podman.sock` -> the socket's path; only Unix sockets are spoken."""
    parts = urlsplit(host)
    if parts.scheme != "unix" or not parts.path:
        raise EngineError(f"container host {host!r} is not unix:///path/to/socket")
    return parts.path


class Engine:
    def __init__(self, host: str, *, timeout: float = 60.0) -> None:
        transport = httpx.AsyncHTTPTransport(uds=socket_path(host))
        self._client = httpx.AsyncClient(
            transport=transport, base_url=f"http://engine/{API_VERSION}", timeout=timeout
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def call(
        self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201, 204), **kwargs: Any
    ) -> httpx.Response:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise EngineError(f"container engine unreachable: {error}") from error
        if response.status_code not in ok:
            raise EngineError(f"{method} {path}: {response.status_code} {_message(response)}")
        return response

    async def create_container(self, name: str, spec: Mapping[str, Any]) -> str:
        response = await self.call("POST", "/containers/create", params={"name": name}, json=spec)
        return str(response.json()["Id"])

    async def start(self, container: str) -> None:
        await self.call("POST", f"/containers/{container}/start", ok=(204, 304))

    async def wait(self, container: str) -> int:
        """Blocks until the container exits; its exit code."""
        response = await self.call("POST", f"/containers/{container}/wait", timeout=None)
        return int(response.json().get("StatusCode", -1))

    async def stop(self, container: str, grace: float) -> None:
        params = {"t": max(1, round(grace))}
        await self.call("POST", f"/containers/{container}/stop", params=params,
                        ok=(204, 304, 404), timeout=grace + 30)  # fmt: skip

    async def remove(self, container: str) -> None:
        params = {"force": "true", "v": "true"}
        await self.call("DELETE", f"/containers/{container}", params=params, ok=(200, 204, 404))

    async def containers(self, label: str) -> list[str]:
        """The names of every container, running or not, that carries `label` (key=value)."""
        filters = json.dumps({"label": [label]})
        response = await self.call("GET", "/containers/json",
                                   params={"all": "true", "filters": filters})  # fmt: skip
        return [str(found["Names"][0]).lstrip("/") for found in response.json()]

    async def logs(self, container: str) -> AsyncIterator[bytes]:
        """The container's output (stdout and stderr, as written) until it exits."""
        params = {"follow": "true", "stdout": "true", "stderr": "true"}
        url = f"/containers/{container}/logs"
        async with self._client.stream("GET", url, params=params, timeout=None) as response:
            if response.status_code != 200:
                raise EngineError(f"logs of {container}: {response.status_code}")
            async for payload in _frames(response.aiter_bytes()):
                yield payload

    async def image_exists(self, image: str) -> bool:
        response = await self.call("GET", f"/images/{image}/json", ok=(200, 404))
        return response.status_code == 200

    async def import_image(
        self, tarball: AsyncIterator[bytes], image: str, changes: list[str]
    ) -> None:
        """`docker import`: a root filesystem tarball becomes `image`."""
        # `repo` may carry the tag (Docker's API says so; podman reads no separate `tag` here).
        params: list[tuple[str, str]] = [("fromSrc", "-"), ("repo", image)]
        params += [("changes", change) for change in changes]
        response = await self.call("POST", "/images/create", params=params, content=tarball,
                                   headers={"content-type": "application/x-tar"},
                                   timeout=None)  # fmt: skip
        _raise_on_stream_error(response.text)

    async def build(
        self, context: AsyncIterator[bytes], image: str, *, dockerfile: str
    ) -> AsyncIterator[str]:
        """`docker build --network host`: the build's output, line by line."""
        params = {"t": image, "networkmode": "host", "rm": "true", "forcerm": "true",
                  "dockerfile": dockerfile}  # fmt: skip
        headers = {"content-type": "application/x-tar"}
        async with self._client.stream("POST", "/build", params=params, content=context,
                                       headers=headers, timeout=None) as response:  # fmt: skip
            if response.status_code != 200:
                raise EngineError(f"build: {response.status_code} {(await response.aread())!r}")
            async for line in response.aiter_lines():
                yield _build_line(line)


async def _frames(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Docker's multiplexed stream: an 8-byte header before each payload."""
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        while len(buffer) >= _FRAME.size:
            _, size = _FRAME.unpack_from(buffer)
            if len(buffer) < _FRAME.size + size:
                break
            yield buffer[_FRAME.size : _FRAME.size + size]
            buffer = buffer[_FRAME.size + size :]


def _build_line(line: str) -> str:
    """A build's JSON progress line as text; an error raises."""
    try:
        message = json.loads(line) if line.strip() else {}
    except ValueError:
        return line
    if "error" in message:
        raise EngineError(str(message.get("error")).strip())
    return str(message.get("stream", "")).rstrip("\n")


def _raise_on_stream_error(text: str) -> None:
    for line in text.splitlines():
        _build_line(line)


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return response.text[:500]
