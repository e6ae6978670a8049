"""The spaces proxy against real apps: Gradio and Streamlit (from a throwaway venv), a plain ASGI
app and a static directory, found through a fake Directory (the supervisor's side).

The proxy, the plain app and a socket-to-TCP forwarder run as subprocesses of this very file
(`python test_proxy.py proxy|echo|forward ...`), so that timings are not skewed by the GIL.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect
from websockets.typing import Origin, Subprotocol

from hugbox.errors import RepoNotFound, ServiceUnavailable
from hugbox.spaces.proxy import relay
from hugbox.spaces.proxy.origin import Credentials, Upstream, create_proxy
from hugbox.spaces.proxy.upstream import TcpAddress

# Real builds, sandboxed processes and servers: about half a minute together, so `make test`
# runs them and `make test-fast` leaves them out.
pytestmark = pytest.mark.slow

TOKEN = "hf_proxytesttoken"
HUB = "http://hub.example"
WAKE_TIMEOUT = 3.0
TOUCH_INTERVAL = 0.2
APPS = ("gradio==6.31.0", "streamlit==1.67.0")


# The fake Directory, run inside the proxy subprocess


@dataclass(eq=False)
class FakeSpace:
    repo_id: str
    upstream: Upstream
    private: bool = False
    asleep: bool = False
    wake_delay: float = 0.0
    wake_error: str | None = None
    stage: str = "RUNNING"
    wakes: int = 0
    touches: int = 0
    tokens: list[str | None] = field(default_factory=list)


class FakeDirectory:
    def __init__(self, config: dict[str, dict[str, Any]]) -> None:
        self.spaces = {repo_id: _fake_space(repo_id, **entry) for repo_id, entry in config.items()}

    async def find(self, owner: str, name: str, credentials: Credentials) -> FakeSpace:
        space = self.spaces.get(f"{owner}/{name}")
        if space is None or (space.private and credentials.token != TOKEN):
            raise RepoNotFound(anonymous=credentials.token is None)
        space.tokens.append(credentials.token)
        return space

    def running(self, space: FakeSpace) -> Upstream | None:
        return None if space.asleep else space.upstream

    async def wake(self, space: FakeSpace) -> Upstream:
        space.wakes += 1
        space.stage = "APP_STARTING"
        await asyncio.sleep(space.wake_delay)
        if space.wake_error:
            space.stage = "BUILDING"
            raise ServiceUnavailable(space.wake_error)
        space.asleep, space.stage = False, "RUNNING"
        return space.upstream

    def stage(self, space: FakeSpace) -> str:
        return space.stage

    def touch(self, space: FakeSpace) -> None:
        space.touches += 1


def _fake_space(repo_id: str, **entry: Any) -> FakeSpace:
    socket, root = entry.pop("socket", None), entry.pop("static_root", None)
    address = entry.pop("address", None)  # an app on TCP, as a Kubernetes Service serves it
    upstream = Upstream(
        socket=TcpAddress(*address) if address else Path(socket) if socket else None,
        static_root=Path(root) if root else None,
        strip_prefix=entry.pop("strip_prefix", True),
    )
    space = FakeSpace(repo_id, upstream, **entry)
    space.stage = "SLEEPING" if space.asleep else "RUNNING"
    return space


def fake_hub(config: dict[str, dict[str, Any]]) -> Any:
    """The proxy, plus `/_fake/{owner}/{name}` telling what the directory saw of a space."""
    directory = FakeDirectory(config)
    proxy = create_proxy(directory, hub_url=HUB, wake_timeout=WAKE_TIMEOUT)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/_fake/"):
            space = directory.spaces[scope["path"].removeprefix("/_fake/")]
            seen = {"wakes": space.wakes, "touches": space.touches, "tokens": space.tokens}
            await _send_json(send, seen)
        else:
            await proxy(scope, receive, send)

    return app


# The plain app, run on a Unix socket


STATE: dict[str, Any] = {}


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await _echo_websocket(scope, receive, send)
        return
    handler = _ECHO_ROUTES.get(scope["path"], _echo)
    await handler(scope, receive, send)


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    headers = [[k.decode(), v.decode()] for k, v in scope["headers"]]
    seen = {"path": scope["path"], "query": scope["query_string"].decode(), "headers": headers}
    await _send_json(send, seen)


async def _small(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _upload(scope: dict[str, Any], receive: Any, send: Any) -> None:
    digest, size, arrivals, more = hashlib.sha256(), 0, [], True
    while more:
        message = await receive()
        digest.update(message.get("body", b""))
        size += len(message.get("body", b""))
        arrivals.append(time.monotonic())
        more = message.get("more_body", False)
    spread = arrivals[-1] - arrivals[0]
    await _send_json(send, {"size": size, "sha256": digest.hexdigest(), "spread": spread})


async def _stream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for word in (b"one\n", b"two\n", b"three\n"):
        await send({"type": "http.response.body", "body": word, "more_body": True})
        await asyncio.sleep(0.4)
    await send({"type": "http.response.body", "body": b""})


async def _sse(scope: dict[str, Any], receive: Any, send: Any) -> None:
    headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'data: {"msg": "hi"}\n\n'})


async def _cookies(scope: dict[str, Any], receive: Any, send: Any) -> None:
    headers = [(b"set-cookie", b"a=1; Path=/"), (b"set-cookie", b"b=2; Path=/")]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _hang(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Ticks until the client goes away, and notes that it saw it go."""
    STATE["hang"] = "ticking"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    gone = asyncio.ensure_future(_until_disconnect(receive))
    while not gone.done():
        await send({"type": "http.response.body", "body": b"tick\n", "more_body": True})
        await asyncio.sleep(0.1)
    STATE["hang"] = "client gone"


async def _until_disconnect(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _state(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await _send_json(send, STATE)


async def _echo_websocket(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    offered = scope.get("subprotocols") or [None]
    accept = {"subprotocol": offered[0], "headers": [(b"set-cookie", b"ws=1; Path=/")]}
    await send({"type": "websocket.accept", **accept})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            STATE["ws_close"] = message.get("code")
            return
        if message.get("text") == "bye":
            await send({"type": "websocket.close", "code": 4001, "reason": "bye now"})
            return
        await send({**message, "type": "websocket.send"})


_ECHO_ROUTES = {
    "/small": _small, "/upload": _upload, "/stream": _stream, "/sse": _sse,
    "/cookies": _cookies, "/hang": _hang, "/state": _state,
}  # fmt: skip


async def _send_json(send: Any, body: Any) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": data})


# The socket-to-TCP forwarder the sandbox has (Gradio and Streamlit only listen on TCP)


async def forward(path: str, port: int) -> None:
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def bridge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            app_reader, app_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:  # the app is not listening yet
            writer.close()
            return
        await asyncio.gather(pipe(reader, app_writer), pipe(app_reader, writer))

    server = await asyncio.start_unix_server(bridge, path)
    await server.serve_forever()


def main(role: str, *args: str) -> None:
    import uvicorn

    if role == "proxy":
        relay.TOUCH_INTERVAL = TOUCH_INTERVAL  # tests cannot wait the real 10 s
        config = json.loads(Path(args[1]).read_text())
        uvicorn.run(fake_hub(config), host="127.0.0.1", port=int(args[0]), log_level="warning")
    elif role == "echo":
        uvicorn.run(echo_app, uds=args[0], log_level="warning", lifespan="off")
    elif role == "echo-tcp":
        uvicorn.run(echo_app, host="127.0.0.1", port=int(args[0]), log_level="warning",
                    lifespan="off")  # fmt: skip
    else:
        asyncio.run(forward(args[0], int(args[1])))


# Fixtures


@dataclass(frozen=True)
class Proxy:
    url: str
    port: int

    def seen(self, repo_id: str) -> dict[str, Any]:
        seen: dict[str, Any] = httpx.get(f"{self.url}/_fake/{repo_id}").json()
        return seen

    def space_url(self, repo_id: str, path: str = "") -> str:
        return f"{self.url}/spaces/{repo_id}/{path}"


@pytest.fixture(scope="module")
def sockets() -> Iterator[Path]:
    # Unix socket paths are limited to 107 bytes: pytest's temp paths can be longer.
    path = Path(tempfile.mkdtemp(prefix="hbx-proxy-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("static")
    (base / "secret.txt").write_text("outside the root")
    root = base / "site"
    (root / "sub").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "index.html").write_text("<h1>home</h1>")
    (root / "style.css").write_text("h1{}")
    (root / "app.js").write_text("let a = 1;")
    (root / "sub" / "index.html").write_text("<h1>sub</h1>")
    (root / ".git" / "config").write_text("[core]")
    (root / "link_out").symlink_to(base / "secret.txt")
    (root / "link_in").symlink_to(root / "style.css")
    return root


def _spaces(sockets: Path, site: Path) -> dict[str, dict[str, Any]]:
    echo = str(sockets / "echo.sock")
    return {
        "alice/demo": {"socket": str(sockets / "gradio.sock")},
        "alice/st": {"socket": str(sockets / "streamlit.sock"), "strip_prefix": False},
        "alice/echo": {"socket": echo},
        "alice/kept": {"socket": echo, "strip_prefix": False},
        "alice/gone": {"socket": str(sockets / "gone.sock")},
        "alice/stream": {"socket": echo},
        "alice/private": {"socket": echo, "private": True},
        "alice/nap-page": {"socket": echo, "asleep": True, "wake_delay": 1.0},
        "alice/nap-api": {"socket": echo, "asleep": True, "wake_delay": 1.0},
        "alice/broken": {"socket": echo, "asleep": True, "wake_error": "The space is building"},
        "alice/slowpoke": {"socket": echo, "asleep": True, "wake_delay": 60.0},
        "alice/site": {"static_root": str(site)},
    }


def _start(*args: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)


def _wait(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if ready():
                return
        except (httpx.TransportError, OSError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"not ready in 60 s: {log.read_text()[-3000:]}")


def _stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=20)


def _over_socket(path: Path, url_path: str) -> httpx.Response:
    if not path.exists():  # httpx would leak the socket object that failed to connect
        raise FileNotFoundError(path)
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(path))) as client:
        return client.get(f"http://localhost{url_path}", timeout=2)


@pytest.fixture(scope="module")
def echo_socket(sockets: Path) -> Iterator[Path]:
    path, log = sockets / "echo.sock", sockets / "echo.log"
    process = _start(sys.executable, __file__, "echo", str(path), log=log)
    _wait(lambda: _over_socket(path, "/small").status_code == 200, process, log)
    yield path
    _stop(process)


@pytest.fixture(scope="module")
def echo_tcp(sockets: Path) -> Iterator[int]:
    """The plain app on a TCP port: a Kubernetes Service's stand-in."""
    from support import free_port

    port, log = free_port(), sockets / "echo-tcp.log"
    process = _start(sys.executable, __file__, "echo-tcp", str(port), log=log)
    _wait(lambda: _over_tcp(port, "/small").status_code == 200, process, log)
    yield port
    _stop(process)


def _over_tcp(port: int, url_path: str) -> httpx.Response:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{url_path}", timeout=2)
    except httpx.TransportError:
        return httpx.Response(599)


@pytest.fixture(scope="module")
def proxy(sockets: Path, site: Path, echo_socket: Path, echo_tcp: int) -> Iterator[Proxy]:
    from support import free_port

    config = sockets / "spaces.json"
    spaces = _spaces(sockets, site)
    spaces["alice/tcp"] = {"address": ["127.0.0.1", echo_tcp]}
    config.write_text(json.dumps(spaces))
    port, log = free_port(), sockets / "proxy.log"
    process = _start(sys.executable, __file__, "proxy", str(port), str(config), log=log)
    url = f"http://127.0.0.1:{port}"
    _wait(lambda: httpx.get(f"{url}/_hugbox/health").text == "ok", process, log)
    yield Proxy(url=url, port=port)
    _stop(process)
    assert "Traceback" not in log.read_text(), log.read_text()


@pytest.fixture(scope="module")
def apps_python() -> Path:
    """Gradio and Streamlit in a venv of their own (reused between runs)."""
    venv = Path(os.environ.get("HUGBOX_TEST_SPACES_VENV", "/tmp/hugbox-test-spaces-apps"))
    python, done = venv / "bin" / "python", venv / ".complete"
    if done.is_file() and done.read_text() == " ".join(APPS):
        return python
    uv = Path(sys.executable).with_name("uv")
    env = {**os.environ, "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", "/tmp/uv-cache-tests")}
    steps = [
        [str(uv), "venv", "-q", "--clear", "--python", "/usr/bin/python3.11", str(venv)],
        [str(uv), "pip", "install", "-q", "--python", str(python), "--no-build", *APPS],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            pytest.skip(f"cannot build the Gradio/Streamlit venv: {result.stderr[-500:]}")
    done.write_text(" ".join(APPS))
    return python


_GRADIO_APP = """import gradio as gr
gr.Interface(lambda s: "Hello " + s, "text", "text", api_name="greet").launch()
"""
_STREAMLIT_APP = """import streamlit as st
st.write("hello from streamlit")
"""


def _forwarder(path: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    return _start(sys.executable, __file__, "forward", str(path), str(port), log=log)


@pytest.fixture(scope="module")
def sdk_apps(apps_python: Path, sockets: Path) -> Iterator[None]:
    """Gradio as alice/demo and Streamlit as alice/st, each behind a socket forwarder."""
    from support import free_port

    gradio_port, streamlit_port = free_port(), free_port()
    (sockets / "gradio_app.py").write_text(_GRADIO_APP)
    (sockets / "streamlit_app.py").write_text(_STREAMLIT_APP)
    base = {**os.environ, "HOME": str(sockets), "GRADIO_ANALYTICS_ENABLED": "False"}
    gradio_env = {
        **base,
        "GRADIO_SERVER_PORT": str(gradio_port),
        "GRADIO_SSR_MODE": "false",
        "GRADIO_ROOT_PATH": "/spaces/alice/demo",
        "GRADIO_TEMP_DIR": str(sockets),
    }
    streamlit_env = {
        **base,
        "STREAMLIT_SERVER_PORT": str(streamlit_port),
        "STREAMLIT_SERVER_HEADLESS": "true",
        "STREAMLIT_SERVER_ADDRESS": "127.0.0.1",
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        "STREAMLIT_SERVER_BASE_URL_PATH": "spaces/alice/st",
    }
    log = sockets / "apps.log"
    streamlit_run = ["-m", "streamlit", "run", str(sockets / "streamlit_app.py")]
    processes = [
        _start(str(apps_python), str(sockets / "gradio_app.py"), log=log, env=gradio_env),
        _start(str(apps_python), *streamlit_run, log=log, env=streamlit_env),
        _forwarder(sockets / "gradio.sock", gradio_port, log),
        _forwarder(sockets / "streamlit.sock", streamlit_port, log),
    ]
    health = "/spaces/alice/st/_stcore/health"
    _wait(lambda: _over_socket(sockets / "gradio.sock", "/config").is_success, processes[0], log)
    _wait(lambda: _over_socket(sockets / "streamlit.sock", health).is_success, processes[1], log)
    yield
    _stop(*processes)


# Gradio and Streamlit


@pytest.mark.slow
def test_gradio_client_predicts_through_the_proxy(proxy: Proxy, sdk_apps: None) -> None:
    from gradio_client import Client

    src = proxy.space_url("alice/demo")
    client = Client(src, token=TOKEN, verbose=False, analytics_enabled=False)
    assert client.predict("world", api_name="/greet") == "Hello world"
    # Gradio writes its URLs for the public host and prefix, from X-Forwarded-Host.
    assert client.config["root"] == src.rstrip("/")
    # gradio_client sent the token as x-hf-authorization, and the proxy took it from there.
    assert set(proxy.seen("alice/demo")["tokens"]) == {TOKEN}


@pytest.mark.slow
def test_gradio_upload_and_download_stream_through(proxy: Proxy, sdk_apps: None) -> None:
    data = os.urandom(8 << 20)
    files = {"files": ("big.bin", data, "application/octet-stream")}
    upload = httpx.post(proxy.space_url("alice/demo", "gradio_api/upload"), files=files)
    assert upload.status_code == 200, upload.text
    [path] = upload.json()
    download = httpx.get(proxy.space_url("alice/demo", f"gradio_api/file={path}"))
    assert download.status_code == 200
    assert hashlib.sha256(download.content).digest() == hashlib.sha256(data).digest()


@pytest.mark.slow
def test_streamlit_health_and_websocket(proxy: Proxy, sdk_apps: None) -> None:
    assert httpx.get(proxy.space_url("alice/st", "_stcore/health")).text == "ok"
    page = httpx.get(proxy.space_url("alice/st"))
    assert page.status_code == 200
    assert "<script" in page.text
    uri = proxy.space_url("alice/st", "_stcore/stream").replace("http", "ws", 1)
    offer = [Subprotocol("streamlit"), Subprotocol("session")]
    with ws_connect(uri, subprotocols=offer, origin=Origin(proxy.url)) as ws:
        assert ws.subprotocol == "streamlit"


# HTTP relay


def test_headers_reach_the_app_without_hub_credentials(proxy: Proxy) -> None:
    headers = {
        "cookie": f"theme=dark; hugbox_session={TOKEN}; hugbox_anon=abc; lang=en",
        "x-hf-authorization": f"Bearer {TOKEN}",
        "x-forwarded-host": "evil.example",
        "user-agent": "tester",
    }
    answer = httpx.get(proxy.space_url("alice/echo", "echo?x=1&__sign=s&y=%20"), headers=headers)
    seen = dict(answer.json()["headers"])
    assert answer.json()["path"] == "/echo"
    assert answer.json()["query"] == "x=1&y=%20"
    assert seen["cookie"] == "theme=dark; lang=en"
    assert "x-hf-authorization" not in seen
    assert seen["user-agent"] == "tester"
    assert seen["host"] == seen["x-forwarded-host"] == f"127.0.0.1:{proxy.port}"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-prefix"] == "/spaces/alice/echo"
    assert proxy.seen("alice/echo")["touches"] >= 1


def test_bearer_is_the_hubs_and_basic_is_the_apps(proxy: Proxy) -> None:
    bearer = httpx.get(proxy.space_url("alice/echo", "echo"), headers={"authorization": "Bearer x"})
    assert "authorization" not in dict(bearer.json()["headers"])
    basic = httpx.get(proxy.space_url("alice/echo", "echo"), auth=("bob", "pw"))
    assert dict(basic.json()["headers"])["authorization"].startswith("Basic ")
    assert proxy.seen("alice/echo")["tokens"][-2:] == ["x", None]


def test_prefix_is_kept_for_apps_that_serve_under_it(proxy: Proxy) -> None:
    answer = httpx.get(proxy.space_url("alice/kept", "a%2Fb/c"))
    assert answer.json()["path"] == "/spaces/alice/kept/a/b/c"
    assert "x-forwarded-prefix" not in dict(answer.json()["headers"])


def test_private_space_takes_every_kind_of_credential(proxy: Proxy) -> None:
    url = proxy.space_url("alice/private", "small")
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"authorization": f"Bearer {TOKEN}"}).text == "ok"
    assert httpx.get(url, headers={"x-hf-authorization": f"Bearer {TOKEN}"}).text == "ok"
    assert httpx.get(url, cookies={"hugbox_session": TOKEN}).text == "ok"
    assert httpx.get(url, params={"__sign": TOKEN}).text == "ok"


def test_response_streams_in_pieces(proxy: Proxy) -> None:
    arrivals = []
    started = time.monotonic()
    with httpx.stream("GET", proxy.space_url("alice/echo", "stream")) as response:
        for chunk in response.iter_raw():
            arrivals.append((time.monotonic() - started, chunk))
    assert b"".join(chunk for _, chunk in arrivals) == b"one\ntwo\nthree\n"
    # The app sends a word every 0.4 s: a proxy that buffered would hand them over together.
    # (Measured between arrivals, so a busy machine cannot fail it.)
    assert arrivals[-1][0] - arrivals[0][0] > 0.6


def test_open_streams_keep_the_space_awake(proxy: Proxy) -> None:
    before = proxy.seen("alice/stream")["touches"]
    assert httpx.get(proxy.space_url("alice/stream", "stream")).text == "one\ntwo\nthree\n"
    assert proxy.seen("alice/stream")["touches"] - before >= 1 + 4  # the request, then 0.2 s ticks
    uri = proxy.space_url("alice/stream", "ws").replace("http", "ws", 1)
    with ws_connect(uri) as ws:
        before = proxy.seen("alice/stream")["touches"]
        time.sleep(1)
        ws.send("still here")
        assert ws.recv() == "still here"
    assert proxy.seen("alice/stream")["touches"] - before >= 4


def test_request_body_streams_to_the_app(proxy: Proxy) -> None:
    part = os.urandom(1 << 20)

    def body() -> Iterator[bytes]:
        yield part
        time.sleep(0.8)  # the app sees the first part while this one is not yet sent
        yield part * 4

    answer = httpx.post(proxy.space_url("alice/echo", "upload"), content=body()).json()
    assert answer["size"] == 5 << 20
    assert answer["sha256"] == hashlib.sha256(part * 5).hexdigest()
    assert answer["spread"] > 0.6


def test_client_leaving_mid_upload(proxy: Proxy) -> None:
    head = "POST /spaces/alice/echo/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"
    with socket.create_connection(("127.0.0.1", proxy.port)) as client:
        client.sendall(head.encode() + b"x" * 100_000)
    # The proxy drops the upstream request quietly (the fixture checks its log) and goes on.
    assert httpx.get(proxy.space_url("alice/echo", "small")).text == "ok"


def test_event_streams_and_cookies_pass(proxy: Proxy) -> None:
    sse = httpx.get(proxy.space_url("alice/echo", "sse"))
    assert sse.headers["x-accel-buffering"] == "no"
    assert sse.text == 'data: {"msg": "hi"}\n\n'
    cookies = httpx.get(proxy.space_url("alice/echo", "cookies"))
    assert cookies.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert len(cookies.headers.get_list("date")) == 1


def test_client_disconnect_ends_the_upstream_request(proxy: Proxy, echo_socket: Path) -> None:
    with httpx.stream("GET", proxy.space_url("alice/echo", "hang")) as response:
        assert next(response.iter_raw()).startswith(b"tick")
    deadline = time.monotonic() + 5
    while _over_socket(echo_socket, "/state").json().get("hang") != "client gone":
        assert time.monotonic() < deadline, "the app never saw the client go"
        time.sleep(0.1)


def test_an_app_that_does_not_answer_is_a_502(proxy: Proxy) -> None:
    answer = httpx.get(proxy.space_url("alice/gone", "small"))
    assert answer.status_code == 502
    assert answer.headers["x-error-message"]


# WebSocket relay


def test_websocket_pumps_both_ways_and_passes_close_codes(proxy: Proxy, echo_socket: Path) -> None:
    uri = proxy.space_url("alice/echo", "ws").replace("http", "ws", 1)
    with ws_connect(uri, subprotocols=[Subprotocol("chat"), Subprotocol("token-1")]) as ws:
        assert ws.subprotocol == "chat"
        assert ws.response is not None
        assert ws.response.headers["set-cookie"] == "ws=1; Path=/"
        ws.send("hello")
        assert ws.recv() == "hello"
        ws.send(b"\x00\x01")
        assert ws.recv() == b"\x00\x01"
        ws.send("bye")
        with pytest.raises(ConnectionClosed):
            ws.recv()
    assert ws.close_code == 4001
    assert ws.close_reason == "bye now"
    with ws_connect(uri) as ws:
        ws.close(4002, "client leaves")
    deadline = time.monotonic() + 5
    while _over_socket(echo_socket, "/state").json().get("ws_close") != 4002:
        assert time.monotonic() < deadline, "the app never saw the client's close code"
        time.sleep(0.1)


def test_an_app_on_tcp_is_relayed_as_one_on_a_socket(proxy: Proxy, echo_tcp: int) -> None:
    """Kubernetes: the app answers at its Service's address, reached from any spaces host."""
    answer = httpx.get(proxy.space_url("alice/tcp", "echo?x=1"))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["path"], answer.json()["query"]) == ("/echo", "x=1")
    with httpx.stream("GET", proxy.space_url("alice/tcp", "hang")) as response:
        assert next(response.iter_raw()).startswith(b"tick")
    deadline = time.monotonic() + 5
    while _over_tcp(echo_tcp, "/state").json().get("hang") != "client gone":
        assert time.monotonic() < deadline, "the app never saw the client go"
        time.sleep(0.1)
    uri = proxy.space_url("alice/tcp", "ws").replace("http", "ws", 1)
    with ws_connect(uri, subprotocols=[Subprotocol("chat")]) as ws:
        assert ws.subprotocol == "chat"
        ws.send("over tcp")
        assert ws.recv() == "over tcp"


def test_websocket_to_a_missing_space_is_refused(proxy: Proxy) -> None:
    uri = proxy.space_url("alice/nope", "ws").replace("http", "ws", 1)
    with pytest.raises(Exception, match="401"):
        ws_connect(uri)


# Waking


def test_browser_gets_the_waking_page_then_the_app(proxy: Proxy) -> None:
    url = proxy.space_url("alice/nap-page", "small")
    page = httpx.get(url, headers={"accept": "text/html,*/*"})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "alice/nap-page is waking up" in page.text
    assert f"{HUB}/spaces/alice/nap-page" in page.text
    stage_url = f"{proxy.url}/_hugbox/spaces/alice/nap-page/stage"
    assert '"/_hugbox/spaces/alice/nap-page/stage"' in page.text
    deadline = time.monotonic() + 5
    while not (stage := httpx.get(stage_url).json())["ready"]:
        assert stage["stage"] == "APP_STARTING"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert stage["stage"] == "RUNNING"
    assert httpx.get(url, headers={"accept": "text/html"}).text == "ok"
    assert proxy.seen("alice/nap-page")["wakes"] == 1


def test_api_clients_wait_for_one_shared_wake(proxy: Proxy) -> None:
    async def three_at_once() -> list[str]:
        async with httpx.AsyncClient() as client:
            url = proxy.space_url("alice/nap-api", "small")
            answers = await asyncio.gather(*(client.get(url) for _ in range(3)))
        return [answer.text for answer in answers]

    started = time.monotonic()
    assert asyncio.run(three_at_once()) == ["ok"] * 3
    assert time.monotonic() - started > 0.9
    assert proxy.seen("alice/nap-api")["wakes"] == 1


def test_failed_or_slow_wake_is_a_503_with_retry_after(proxy: Proxy) -> None:
    broken = httpx.get(proxy.space_url("alice/broken", "small"))
    assert broken.status_code == 503
    assert broken.json() == {"error": "The space is building"}
    assert broken.headers["retry-after"]
    stage = httpx.get(f"{proxy.url}/_hugbox/spaces/alice/broken/stage").json()
    assert stage == {"stage": "BUILDING", "ready": False, "error": "The space is building"}
    slow = httpx.get(proxy.space_url("alice/slowpoke", "small"), timeout=10)
    assert slow.status_code == 503
    assert slow.headers["retry-after"]
    assert "still starting" in slow.json()["error"]


# Errors and routes


def test_errors_render_as_the_hub_does(proxy: Proxy) -> None:
    anonymous = httpx.get(proxy.space_url("alice/nope"))
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": "Repository not found"}
    assert anonymous.headers["x-error-code"] == "RepoNotFound"
    assert anonymous.headers["x-error-message"] == "Repository not found"
    assert anonymous.headers["x-request-id"]
    signed_in = httpx.get(proxy.space_url("alice/nope"), headers={"authorization": "Bearer t"})
    assert signed_in.status_code == 404
    page = httpx.get(proxy.space_url("alice/nope"), headers={"accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-error-code"] == "RepoNotFound"
    assert f'href="{HUB}/spaces/alice/nope"' in page.text
    assert httpx.head(proxy.space_url("alice/nope")).content == b""


def test_routes_of_the_spaces_origin(proxy: Proxy) -> None:
    assert httpx.get(f"{proxy.url}/_hugbox/health").text == "ok"
    elsewhere = httpx.get(f"{proxy.url}/api/models")
    assert elsewhere.status_code == 404
    assert "error" in elsewhere.json()
    bare = httpx.get(f"{proxy.url}/spaces/alice/echo?a=1")
    assert bare.status_code == 307
    assert bare.headers["location"] == "/spaces/alice/echo/?a=1"
    assert httpx.get(f"{proxy.url}/spaces/alice/..%2Fbob/x").status_code == 404


# Static spaces


def _raw_get(proxy: Proxy, path: str) -> tuple[int, bytes]:
    """A GET with the path byte for byte: httpx would resolve the `..` itself."""
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_static_files_with_types_indexes_and_etags(proxy: Proxy) -> None:
    home = httpx.get(proxy.space_url("alice/site"))
    assert home.text == "<h1>home</h1>"
    assert home.headers["content-type"] == "text/html; charset=utf-8"
    assert (
        httpx.get(proxy.space_url("alice/site", "app.js"))
        .headers["content-type"]
        .startswith("text/javascript")
    )
    assert httpx.get(proxy.space_url("alice/site", "link_in")).text == "h1{}"
    assert httpx.get(proxy.space_url("alice/site", "sub/")).text == "<h1>sub</h1>"
    redirect = httpx.get(proxy.space_url("alice/site", "sub"))
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "/spaces/alice/site/sub/"
    css = httpx.get(proxy.space_url("alice/site", "style.css"))
    again = httpx.get(css.url, headers={"if-none-match": css.headers["etag"]})
    assert again.status_code == 304
    assert httpx.post(proxy.space_url("alice/site", "style.css")).status_code == 405


@pytest.mark.parametrize(
    "path",
    [
        "/spaces/alice/site/../secret.txt",
        "/spaces/alice/site/%2e%2e/secret.txt",
        "/spaces/alice/site/%2E%2E%2Fsecret.txt",
        "/spaces/alice/site/sub/..%2f..%2fsecret.txt",
        "/spaces/alice/site/link_out",
        "/spaces/alice/site/.git/config",
        "/spaces/alice/site/missing.html",
    ],
)
def test_static_files_stay_inside_the_root(proxy: Proxy, path: str) -> None:
    status, body = _raw_get(proxy, path)
    assert status == 404
    assert b"outside the root" not in body


# Overhead (printed, not asserted)


def _p50(client: httpx.Client, url: str, count: int = 500) -> float:
    for _ in range(50):
        client.get(url)
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        client.get(url)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def test_proxy_overhead(
    proxy: Proxy, echo_socket: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(echo_socket))) as client:
        direct = _p50(client, "http://localhost/small")
    with httpx.Client() as client:
        proxied = _p50(client, proxy.space_url("alice/echo", "small"))
    with capsys.disabled():
        print(f"\nspaces proxy: p50 direct {direct:.2f} ms, through the proxy {proxied:.2f} ms")


if __name__ == "__main__":
    main(*sys.argv[1:])
