"""What the hub and its Ray Serve fleet say to each other (`ray_executor` on the hub's side,
`worker/ray_app` on the fleet's): one model call per HTTP request, its reply, and the frames of a
stream.

Calls and replies are pickles (jobs hold tuples, bytes and dataclasses that JSON would flatten),
so each carries an HMAC under a key derived from the server secret: neither side unpickles what
the other did not sign. The fleet gets the derived key, never the secret itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import pickle
from dataclasses import dataclass
from typing import Any

from hugbox.inference.worker.process import Job, Outcome

APP_NAME = "hugbox"
ROUTE = "/hugbox"  # the Serve application that loads any model
PINNED_ROUTE = "/hugbox-pinned"  # + "/{repo_id}": one application per pinned model
MODEL_HEADER = "serve_multiplexed_model_id"
_MAC_BYTES = 32


class FrameError(ValueError):
    """A frame whose signature does not hold: not from our hub or fleet, or corrupted."""


@dataclass(frozen=True)
class FleetCall:
    """Run `job` on a model at one commit (a list: several, answered by a list of outcomes;
    None: only load it). The fleet downloads the snapshot from `hub_url` with `grant`, a
    read-only service token for that commit alone."""

    repo_id: str
    revision: str
    task: str
    weights_bytes: int
    hub_url: str
    grant: str
    job: Job | list[Job] | None
    wait: bool = True  # False: a model not loaded yet starts loading and `Loading` comes back

    @property
    def model_id(self) -> str:
        return model_id(self.repo_id, self.revision, self.task)


@dataclass(frozen=True)
class Loading:
    """The model is loading; come back in about `estimated_s` seconds."""

    estimated_s: float


@dataclass(frozen=True)
class LoadFailed:
    """The snapshot did not load as a model for its task."""

    message: str


@dataclass(frozen=True)
class Reply:
    value: Outcome | list[Outcome] | Loading | LoadFailed | None  # None: a load-only call
    loaded_s: float | None = None  # this call loaded the model, in that many seconds


def model_id(repo_id: str, revision: str, task: str) -> str:
    """Serve's multiplexed model id: one loaded pipeline per repo, commit and task."""
    return f"{repo_id}@{revision}:{task}"


def parse_model_id(value: str) -> tuple[str, str, str]:
    repo_id, _, rest = value.partition("@")
    revision, _, task = rest.partition(":")
    return repo_id, revision, task


def pinned_route(repo_id: str) -> str:
    return f"{PINNED_ROUTE}/{repo_id}"


def estimate_load_s(weights_bytes: int, elapsed_s: float = 0.0) -> float:
    # As ProcessExecutor: importing torch costs ~5 s; weights then load at roughly 200 MB/s.
    return 5.0 + weights_bytes / 200e6 - elapsed_s


def fleet_key(secret: bytes) -> bytes:
    return hmac.new(secret, b"hugbox-ray-fleet", hashlib.sha256).digest()


def pack(key: bytes, value: Any) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return hmac.new(key, data, hashlib.sha256).digest() + data


def unpack(key: bytes, frame: bytes) -> Any:
    mac, data = frame[:_MAC_BYTES], frame[_MAC_BYTES:]
    if not hmac.compare_digest(mac, hmac.new(key, data, hashlib.sha256).digest()):
        raise FrameError("unsigned or corrupted frame")
    return pickle.loads(data)  # noqa: S301 - signed by our hub or fleet (above)


def event(key: bytes, value: Any) -> str:
    """One server-sent event of a stream: a chunk of text or the final `Reply`."""
    return f"data: {base64.b64encode(pack(key, value)).decode()}\n\n"


def read_event(key: bytes, line: str) -> Any:
    return unpack(key, base64.b64decode(line.removeprefix("data:").strip()))
