"""The Spaces runtime API's JSON shapes, named after huggingface_hub's `SpaceRuntime`,
`SpaceSecret`, `SpaceVariable` and `JobHardwareInfo`."""

from __future__ import annotations

from typing import Any

from hugbox.wire import WireModel


class JobHardwareInfo(WireModel):
    """An entry of `list_spaces_hardware` (this hub offers its own CPUs only)."""

    name: str
    prettyName: str
    cpu: str
    ram: str
    ephemeralStorage: str | None = None
    accelerator: dict[str, Any] | None = None
    unitCostMicroUSD: int
    unitCostUSD: float
    unitLabel: str


class SpaceHardware(WireModel):
    current: str | None
    requested: str | None


class SpaceReplicas(WireModel):
    current: int
    requested: int


class SpaceDomain(WireModel):
    domain: str
    stage: str


class SpaceRuntime(WireModel):
    """`GET …/runtime`, and the answer of restart, pause, sleep time and hardware requests."""

    stage: str
    hardware: SpaceHardware
    storage: str | None
    gcTimeout: int | None  # seconds of inactivity before the space sleeps; None: never
    replicas: SpaceReplicas
    devMode: bool
    domains: list[SpaceDomain]
    errorMessage: str | None = None
    sha: str | None = None  # the commit the running app was built from


class SpaceHost(WireModel):
    host: str  # the app's URL, ending with `/` (gradio_client joins paths to it)


class SpaceSecret(WireModel):
    """A secret as listed: its value is never sent back."""

    description: str | None
    updatedAt: str


class SpaceVariable(SpaceSecret):
    value: str
