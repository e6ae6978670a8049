"""A small fake Kubernetes cluster for the spaces backend's tests: an API server in the test
process that answers the calls hugbox makes (server-side apply, the replicas patch, get and
delete of Deployments and Services) in the shapes the real API server answers them (recorded
from kube-apiserver 1.32 and trimmed), and a "kubelet" that runs a Deployment's pod when it has
a replica: the pod's own command under bubblewrap, its hostPath volumes mounted where the pod
spec says, its readiness probe polled to set `readyReplicas`.

Where a real cluster gives each pod its own IP, this one gives each Service a port of its own
on 127.0.0.1 (its `clusterIP`), and the pod listens there: the Service's `port` is that port."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from support import free_port

_PATH = re.compile(r"/(?:api/v1|apis/apps/v1)/namespaces/([^/]+)/(deployments|services)/([^/]+)\Z")
_PORT_VARIABLES = ("GRADIO_SERVER_PORT", "STREAMLIT_SERVER_PORT", "PORT")


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    """A `Status` as the API server answers errors."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}  # fmt: skip


@dataclass
class Pod:
    process: subprocess.Popen[bytes]
    port: int
    ready: bool = False


@dataclass
class FakeCluster:
    """The cluster's state; `calls` is every (method, path, body) the API server got."""

    log_dir: Path
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    pods: dict[tuple[str, str], Pod] = field(default_factory=dict)
    ports: dict[tuple[str, str], int] = field(default_factory=dict)
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    version: int = 1000
    url: str = ""

    # The API

    def answer(self, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.calls.append((method, path, body))
            found = _PATH.match(path)
            if found is None:
                return 404, _status(404, "NotFound", f"the server could not find {path}")
            namespace, plural, name = found.groups()
            key = (namespace, plural, name)
            if method == "GET":
                return self._get(key)
            if method == "DELETE":
                return self._delete(key)
            if method == "PATCH":
                return self._patch(key, body)
            return 405, _status(405, "MethodNotAllowed", f"{method} is not supported here")

    def _get(self, key: tuple[str, str, str]) -> tuple[int, dict[str, Any]]:
        stored = self.objects.get(key)
        if stored is None:
            return 404, _status(404, "NotFound", f'{key[1]} "{key[2]}" not found')
        return 200, self._with_status(key, stored)

    def _delete(self, key: tuple[str, str, str]) -> tuple[int, dict[str, Any]]:
        if self.objects.pop(key, None) is None:
            return 404, _status(404, "NotFound", f'{key[1]} "{key[2]}" not found')
        self._stop_pod(key[0], key[2])
        return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}

    def _patch(self, key: tuple[str, str, str], body: Any) -> tuple[int, dict[str, Any]]:
        stored = self.objects.get(key)
        if "kind" in body:  # a server-side apply: the whole object as its manager wants it
            created = stored is None
            self.objects[key] = self._admit(key, body, stored)
            self._sync(key)
            return (201 if created else 200), self._with_status(key, self.objects[key])
        if stored is None:
            return 404, _status(404, "NotFound", f'{key[1]} "{key[2]}" not found')
        stored["spec"].update(body.get("spec", {}))  # the replicas patch
        self._bump(stored)
        self._sync(key)
        return 200, self._with_status(key, stored)

    def _admit(self, key: tuple[str, str, str], body: Any, old: Any) -> dict[str, Any]:
        stored = copy.deepcopy(body)
        meta = stored.setdefault("metadata", {})
        meta["namespace"] = key[0]
        meta["uid"] = (old or {}).get("metadata", {}).get("uid", f"uid-{key[2]}")
        meta["creationTimestamp"] = "2026-12-07T09:00:00Z"
        meta["generation"] = (old or {}).get("metadata", {}).get("generation", 0)
        self._bump(stored)
        if key[1] == "services":  # the API server allocates the Service's address
            port = self.ports.setdefault((key[0], key[2]), free_port())
            stored["spec"]["clusterIP"] = "127.0.0.1"
            stored["spec"]["clusterIPs"] = ["127.0.0.1"]
            stored["spec"]["type"] = "ClusterIP"
            for entry in stored["spec"]["ports"]:
                entry.update(port=port, protocol="TCP")
        return stored

    def _bump(self, stored: dict[str, Any]) -> None:
        self.version += 1
        stored["metadata"]["resourceVersion"] = str(self.version)
        stored["metadata"]["generation"] = stored["metadata"].get("generation", 0) + 1

    def _with_status(self, key: tuple[str, str, str], stored: dict[str, Any]) -> dict[str, Any]:
        answer = copy.deepcopy(stored)
        if key[1] == "services":
            answer["status"] = {"loadBalancer": {}}
            return answer
        wanted = stored["spec"].get("replicas", 1)
        pod = self.pods.get((key[0], key[2]))
        ready = 1 if pod is not None and pod.ready else 0
        status: dict[str, Any] = {"observedGeneration": stored["metadata"]["generation"]}
        if wanted:
            status.update(replicas=1, updatedReplicas=1, unavailableReplicas=1 - ready)
            if ready:
                status.update(readyReplicas=1, availableReplicas=1)
                status.pop("unavailableReplicas")
        answer["status"] = status
        return answer

    # The kubelet

    def _sync(self, key: tuple[str, str, str]) -> None:
        if key[1] != "deployments":
            return
        namespace, _, name = key
        wanted = self.objects[key]["spec"].get("replicas", 1)
        self._stop_pod(namespace, name)  # a new template or zero replicas: the old pod goes
        if wanted:
            port = self.ports.setdefault((namespace, name), free_port())
            self.pods[(namespace, name)] = self._run(name, self.objects[key], port)

    def _run(self, name: str, deployment: dict[str, Any], port: int) -> Pod:
        spec = deployment["spec"]["template"]["spec"]
        [container] = spec["containers"]
        env = {e["name"]: e["value"] for e in container.get("env", [])}
        env.update(dict.fromkeys(_PORT_VARIABLES, str(port)))
        env.update(GRADIO_SERVER_NAME="127.0.0.1", STREAMLIT_SERVER_ADDRESS="127.0.0.1")
        argv = ["bwrap", "--unshare-pid", *_root(), "--clearenv"]
        for name_, value in env.items():
            argv += ["--setenv", name_, value]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for mount in container.get("volumeMounts", []):
            volume = volumes[mount["name"]]
            if "hostPath" in volume:
                bind = "--ro-bind" if mount.get("readOnly") else "--bind"
                argv += [bind, volume["hostPath"]["path"], mount["mountPath"]]
            else:
                argv += ["--tmpfs", mount["mountPath"]]
        argv += ["--", *container["command"]]
        # Not --die-with-parent: the parent is the request's thread, which ends at once.
        with (self.log_dir / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # fmt: skip
        pod = Pod(process, port)
        probe = container["readinessProbe"]["httpGet"]["path"]
        threading.Thread(target=self._probe, args=(pod, probe), daemon=True).start()
        return pod

    @staticmethod
    def _probe(pod: Pod, path: str) -> None:
        while pod.process.poll() is None and not pod.ready:
            with contextlib.suppress(httpx.TransportError):
                pod.ready = httpx.get(f"http://127.0.0.1:{pod.port}{path}").status_code < 500
            time.sleep(0.2)

    def _stop_pod(self, namespace: str, name: str) -> None:
        pod = self.pods.pop((namespace, name), None)
        if pod is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pod.process.pid, signal.SIGKILL)
            pod.process.wait()

    def running(self, namespace: str, name: str) -> bool:
        pod = self.pods.get((namespace, name))
        return pod is not None and pod.process.poll() is None

    def close(self) -> None:
        with self.lock:
            for namespace, name in list(self.pods):
                self._stop_pod(namespace, name)


def _root() -> list[str]:
    """A read-only view of the host's system, as an image would give: /usr, /etc and the
    merged-/usr links, a private /proc, /dev and /tmp."""
    argv = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc", "--proc", "/proc",
            "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/opt"]  # fmt: skip
    for link in ("bin", "lib", "lib64", "sbin"):
        path = Path("/") / link
        if path.is_symlink():
            argv += ["--symlink", str(path.readlink()), str(path)]
    return argv


class _Handler(BaseHTTPRequestHandler):
    cluster: FakeCluster

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        status, payload = self.cluster.answer(self.command, urlsplit(self.path).path, body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PATCH = do_DELETE = do_POST = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextlib.contextmanager
def fake_cluster(log_dir: Path) -> Iterator[FakeCluster]:
    """The API server on a free local port (plain HTTP, as `kubectl proxy` serves it)."""
    if shutil.which("bwrap") is None:
        raise RuntimeError("the fake kubelet runs pods under bubblewrap")
    cluster = FakeCluster(log_dir)
    handler = type("Handler", (_Handler,), {"cluster": cluster})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    cluster.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield cluster
    finally:
        server.shutdown()
        server.server_close()
        cluster.close()
