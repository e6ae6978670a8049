"""A space's Kubernetes manifests: schema-valid (kubernetes-validate, strict: unknown fields
fail), awake or asleep by replicas, and carrying the same limits and read-only mounts as the
container runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from hugbox.spaces.host.manifests import KubeSpace, manifests, name_of
from hugbox.spaces.host.runner import Launch
from hugbox.spaces.host.sandbox import SandboxLimits

PYTHON = "/opt/venv/bin/python"
KUBERNETES = "1.32"  # the image's kubectl v1.32.4; strict schemas reject misspelt fields
LIMITS = SandboxLimits(memory_bytes=512 * 1024**2, processes=256, open_files=4096,
                       disk_bytes=64 * 1024**2)  # fmt: skip


def _launch(image: str | None = None) -> Launch:
    return Launch(
        space_id="alice/demo", uid=200_007, app_dir=Path("/data/spaces/7/builds/abc/app"),
        venv=Path("/data/spaces/venvs/k1"), command=[] if image else [PYTHON, "app.py"],
        app_port=8080 if image else 7860, env={"SPACE_ID": "alice/demo", "HF_ENDPOINT": "x"},
        run_dir=Path("/data/spaces/7/run"), hub_address=("127.0.0.1", 8000), hub_port_inside=8000,
        log_path=Path("/data/spaces/7/logs/run.log"), secrets=(), limits=LIMITS, image=image,
    )  # fmt: skip


def _space(image: str | None = None, *, awake: bool = True) -> KubeSpace:
    return KubeSpace(name=name_of(7), launch=_launch(image), image=image or "base:1",
                     probe_path="/", hub_url="http://hub.hugbox:8000", awake=awake)  # fmt: skip


@pytest.mark.parametrize("image", [None, "localhost/hugbox-space-7:abc"])
def test_manifests_are_valid_kubernetes(image: str | None) -> None:
    for manifest in manifests(_space(image)):
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)


def test_a_misspelt_field_would_be_caught() -> None:
    deployment = manifests(_space())[0]
    deployment["spec"]["replica"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


def test_sleep_is_zero_replicas_behind_the_same_service() -> None:
    awake, service = manifests(_space())
    asleep = manifests(_space(awake=False))[0]
    assert (awake["spec"]["replicas"], asleep["spec"]["replicas"]) == (1, 0)
    assert service["spec"]["selector"] == awake["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == 7860


def test_the_pod_is_locked_down_as_the_container_runner() -> None:
    pod = manifests(_space())[0]["spec"]["template"]["spec"]
    [app] = pod["containers"]
    assert pod["securityContext"] == {"runAsUser": 200_007, "runAsGroup": 200_007,
                                      "runAsNonRoot": True}  # fmt: skip
    assert not pod["automountServiceAccountToken"]
    assert app["securityContext"]["readOnlyRootFilesystem"]
    assert app["resources"]["limits"]["memory"] == str(512 * 1024**2 + 2 * 64 * 1024**2)
    mounts = {m["mountPath"]: m.get("readOnly", False) for m in app["volumeMounts"]}
    assert mounts == {"/opt/app": True, "/opt/venv": True, "/home/user": False, "/tmp": False}
    env = {e["name"]: e["value"] for e in app["env"]}
    assert env["HF_ENDPOINT"] == "http://hub.hugbox:8000" and env["GRADIO_SERVER_NAME"] == "0.0.0.0"  # noqa: S104
    assert app["command"][-2:] == ["/opt/venv/bin/python", "app.py"]


def test_a_docker_space_runs_its_own_image_and_command() -> None:
    app: dict[str, Any] = manifests(_space("localhost/hugbox-space-7:abc"))[0]["spec"]["template"][
        "spec"]["containers"][0]  # fmt: skip
    assert app["image"] == "localhost/hugbox-space-7:abc" and "command" not in app
    assert app["ports"] == [{"name": "http", "containerPort": 8080}]
