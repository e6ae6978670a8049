"""Settings: every knob hugbox has, typed, read once from HUGBOX_* environment variables."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import ByteSize, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class PreuploadMode(StrEnum):
    """How `preupload` tells clients to send file content (spec/hub-api.md §2.2)."""

    INLINE = "inline"  # every file "regular": stock clients upload even with hf_xet installed
    LFS = "lfs"  # HF-faithful: .gitattributes decide, content goes through the LFS batch API
    XET = "xet"  # as `lfs`, and stock clients move large files through hugbox's Xet CAS


class InferenceBackend(StrEnum):
    """Where hosted models run."""

    PROCESS = "process"  # one worker process per model, on this machine (the embedded default)
    RAY = "ray"  # a Ray Serve application shared by every hub process (docs/deployment.md)


class InferenceDtype(StrEnum):
    """What dtype model workers compute in (inference/worker/precision.py)."""

    AUTO = "auto"  # the checkpoint's, but float32 for half precision the CPU has no kernels for
    CHECKPOINT = "checkpoint"  # the checkpoint's, always: half the memory of float32
    FLOAT32 = "float32"


class SpacesRunner(StrEnum):
    """What runs space apps (docs/deployment.md, "Spaces in containers")."""

    BUBBLEWRAP = "bubblewrap"
    CONTAINER = "container"
    KUBERNETES = "kubernetes"


class LogFormat(StrEnum):
    """How `hugbox serve` writes its log lines."""

    TEXT = "text"  # one readable line: time, level, request id, logger, message
    JSON = "json"  # one JSON object per line, for log shippers (docs/deployment.md)


class Settings(BaseSettings):
    """The one settings object; built once at start-up and passed to `create_app`."""

    model_config = SettingsConfigDict(env_prefix="HUGBOX_", frozen=True)

    data_dir: Path = Field(
        default=Path("data"), description="Where repos, large files and the database live."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata database; SQLite in the data dir when unset, "
        "or PostgreSQL: `postgresql+psycopg://user:password@host:5432/name`.",
    )
    database_pool_size: int = Field(
        default=5,
        ge=1,
        description="PostgreSQL connections each server process keeps open; up to "
        "`database_pool_overflow` more are opened under load. Size them so that replicas x "
        "worker processes x (pool + overflow) stays under the server's `max_connections`.",
    )
    database_pool_overflow: int = Field(
        default=10,
        ge=0,
        description="PostgreSQL connections a server process may open beyond its pool at busy "
        "times (closed again when given back).",
    )
    public_url: str | None = Field(
        default=None,
        description="Base URL put in links the server returns; taken from each request when unset.",
    )
    preupload_mode: PreuploadMode = Field(
        default=PreuploadMode.XET,
        description="`xet` (default), `lfs` (LFS batch API only) or `inline`; see the docs.",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Signs upload URLs and CSRF tokens; a random key is kept in the data dir "
        "when unset. Replicas must share one.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis that every replica shares for rate limits (e.g. "
        "`redis://cache:6379/0`); each process counts on its own when unset.",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Addresses (comma-separated, or `*`) of the proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto `hugbox serve` trusts: uvicorn's `--forwarded-allow-ips`.",
    )
    log_format: LogFormat = Field(
        default=LogFormat.TEXT,
        description="`text` (default) or `json`: one JSON object per line, access lines with "
        "request_id, user, repo, route, method, status and duration_ms.",
    )
    max_request_body: int = Field(
        default=16 * 1024 * 1024,
        description="Largest JSON or form request body, in bytes (commits and LFS are streamed).",
    )
    check_responses: bool = Field(
        default=False,
        description="Validate every JSON response against its route's declared model and answer "
        "500 on a mismatch: for tests and staging, it costs time on every request.",
    )
    max_file_size: ByteSize = Field(
        default=ByteSize(50 * 1000**3),
        description="Largest file one may upload, in bytes (or e.g. `50GB`, as on huggingface.co); "
        "larger uploads are refused before anything is planned.",
    )
    lfs_multipart_chunk_size: int = Field(
        default=64 * 1024 * 1024,
        description="LFS objects larger than this are uploaded in parts of this size (multipart).",
    )
    blob_url: str | None = Field(
        default=None,
        description="Keep large files (LFS objects, Xet xorbs, shards and recipes) in an S3 "
        "bucket, `s3://bucket/prefix`, instead of the data dir; credentials, region and endpoint "
        "come from the standard AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and "
        "AWS_ENDPOINT_URL variables.",
    )
    blob_redirects: bool = Field(
        default=True,
        description="With `blob_url`, answer downloads of large files with a 302 to a presigned "
        "URL of the bucket (as huggingface.co redirects to its CDN); turn off when clients cannot "
        "reach the bucket, and the hub streams the bytes itself.",
    )
    blob_direct_uploads: bool = Field(
        default=True,
        description="With `blob_url`, hand LFS multipart uploads (huggingface_hub's `multipart` "
        "transfer) presigned part URLs of the bucket, so the bytes go straight to S3; the hub "
        "then checks their sha256 before it stores them. Turn off when clients cannot reach the "
        "bucket: the parts then go through the hub. Needs parts of at least 5 MiB "
        "(`lfs_multipart_chunk_size`).",
    )
    blob_cache_bytes: ByteSize = Field(
        default=ByteSize(10 * 1024**3),
        description="With `blob_url`, local disk for copies of stored files that the dataset "
        "viewer, git pushes and inference read as files (least recently used go first).",
    )
    inference_memory_budget: ByteSize = Field(
        default=ByteSize(8 * 1024**3),
        description="Memory that loaded models may use together (bytes, or e.g. `8GiB`); idle "
        "ones are evicted past it.",
    )
    inference_max_model_bytes: ByteSize = Field(
        default=ByteSize(10 * 1024**3),
        description="Models with larger weights are refused (HF: 10 GB).",
    )
    inference_threads: int = Field(default=1, description="Torch threads per model worker.")
    inference_dtype: InferenceDtype = Field(
        default=InferenceDtype.AUTO,
        description="What models compute in: `auto` loads a checkpoint in its own dtype, except "
        "bfloat16 or float16 weights on a CPU without instructions for them (every AVX2 CPU), "
        "which run in float32, twice as fast there at twice the memory; `checkpoint` always "
        "keeps the saved dtype; `float32` always upcasts.",
    )
    inference_onnx: bool = Field(
        default=True,
        description="Run encoder models (feature-extraction, sentence-similarity, text- and "
        "token-classification, fill-mask) on ONNX Runtime once an export of their commit, made "
        "in the background and cached beside the snapshot, matches transformers (cosine >= "
        "0.99999 on a probe batch); otherwise they stay on transformers. Needs `hugbox[onnx]`.",
    )
    inference_int8: bool = Field(
        default=False,
        description="Serve every encoder model on ONNX Runtime with int8 weights (dynamic, "
        "per-channel), as a repo's README can ask with `inference: {quantization: int8}`. "
        "Prepared when the model loads; refused below `inference_int8_min_cosine`.",
    )
    inference_int8_min_cosine: float = Field(
        default=0.97,
        description="Lowest cosine agreement with transformers, on the probe batch, at which an "
        "int8 model is served; below it the model does not load (400, with the measured value).",
    )
    inference_max_batch: int = Field(
        default=32, description="Most concurrent requests one model runs as one batch."
    )
    inference_max_queue: int = Field(
        default=64,
        description="Requests one model may hold, running or waiting; more are refused with 429.",
    )
    inference_load_timeout: float = Field(
        default=120.0, description="Seconds a request waits for its model to load, then 503."
    )
    inference_deadline: float = Field(
        default=300.0,
        description="Seconds a request may wait for its answer (queue and compute), then 504.",
    )
    inference_cores: int | None = Field(
        default=None,
        description="Cores the model workers of one server process may keep busy at once "
        "(batches running together x threads); default: the machine's cores divided by the "
        "server's worker processes.",
    )
    inference_pinned: list[str] = Field(
        default_factory=list,
        description='Models loaded at start and never evicted, as a JSON list: ["org/name", ...].',
    )
    inference_access_ttl: float = Field(
        default=1.0,
        description="Seconds an inference caller's access to a model, and the commit its branch "
        "points to, are remembered (0: checked on every request).",
    )
    inference_cache_bytes: int = Field(
        default=64 * 1024**2,
        description="Memory for cached answers of deterministic inference calls, per server "
        "process (JSON bytes; 0 turns the cache off).",
    )
    inference_backend: InferenceBackend = Field(
        default=InferenceBackend.PROCESS,
        description="`process` (default): models run in worker processes of each server "
        "process; `ray`: in the hugbox application of a Ray Serve cluster (`HUGBOX_RAY_*`).",
    )
    ray_serve_url: str = Field(
        default="http://127.0.0.1:8001",
        description="HTTP address of the Ray Serve proxy that serves the hugbox application "
        "(with `HUGBOX_INFERENCE_BACKEND=ray`).",
    )
    ray_address: str | None = Field(
        default=None,
        description="Ray cluster address (e.g. `ray://head:10001` or `auto`): `hugbox serve` "
        "deploys the hugbox Serve application there at start; unset, it must be deployed.",
    )
    ray_hub_url: str | None = Field(
        default=None,
        description="The hub's URL as Ray nodes reach it: replicas download models from it as "
        "a Hugging Face client; `HUGBOX_PUBLIC_URL` when unset.",
    )
    ray_replicas: int = Field(
        default=1, description="Replicas of the hugbox Serve deployment that loads any model."
    )
    ray_models_per_replica: int = Field(
        default=4, description="Models one Ray replica keeps loaded (least recently used go)."
    )
    ray_replica_cpus: float = Field(
        default=1.0,
        description="CPUs Ray reserves for each replica (0 lets replicas share the cores "
        "freely, as on a small test cluster).",
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics to anyone; by default it needs a site admin's token (its "
        "labels name private models).",
    )
    tree_page_size: int = Field(default=1000, description="Entries per page of tree listings.")
    list_page_size: int = Field(default=100, description="Repos per page of repo listings.")
    job_workers: int = Field(
        default=1,
        description="Background job threads per server process (dataset conversion, search "
        "indexes); 0 leaves jobs to `hugbox worker`.",
    )
    job_stale_after: float = Field(
        default=60.0,
        description="Seconds without a heartbeat after which a running job is taken to be "
        "orphaned (its process died) and runs again.",
    )
    reconcile_interval: float = Field(
        default=300.0,
        description="Seconds between two passes that compare every repo's refs in git with the "
        "database and record what a crash left out (0: only when the hub starts).",
    )
    sso_max_age: float = Field(
        default=12 * 3600.0,
        ge=60,
        description="Seconds a single sign-on stays recent enough for an org that requires SSO: "
        "a member's web session (or, for access tokens, their latest SSO sign-in) older than this "
        "is refused the org's private repos until they sign in through the org's provider again.",
    )
    job_max_attempts: int = Field(
        default=5, description="Runs a failing job gets (with exponential backoff) before it fails."
    )
    job_listen_url: str | None = Field(
        default=None,
        description="PostgreSQL only: where job workers LISTEN for new jobs, a direct connection "
        "to the server (not through PgBouncer in transaction mode); the database URL when unset.",
    )
    viewer_max_dataset_bytes: ByteSize = Field(
        default=ByteSize(5 * 1000**3),
        description="Dataset viewer: Arrow bytes converted per split; beyond, the export is "
        "`partial` (HF: 5 GB).",
    )
    spaces_enabled: bool = Field(
        default=True,
        description="Run spaces: `hugbox serve` starts the spaces host (builder, sandboxed apps, "
        "proxy) beside the hub.",
    )
    spaces_port: int | None = Field(
        default=None,
        description="Port of the spaces origin, where apps are served under "
        "`/spaces/{owner}/{name}/`; the hub's port + 1 when unset.",
    )
    spaces_url: str | None = Field(
        default=None,
        description="Public base URL of the spaces origin (the `host` clients read); "
        "`http://<hub host>:<spaces port>` when unset.",
    )
    spaces_max_running: int = Field(
        default=4, description="Apps running at once; past it the least recently used sleeps."
    )
    spaces_sleep_time: int = Field(
        default=48 * 3600,
        description="Seconds without a visitor before an app sleeps, unless its owner set "
        "another sleep time (-1: never).",
    )
    spaces_memory: ByteSize = Field(
        default=ByteSize(4 * 1024**3), description="Memory an app's process may use."
    )
    spaces_disk: ByteSize = Field(
        default=ByteSize(1024**3),
        description="Writable space an app gets (its home and app copy, on tmpfs, in memory).",
    )
    spaces_processes: int = Field(
        default=256, description="Processes (and threads) an app may have at once."
    )
    spaces_build_timeout: float = Field(
        default=900.0, description="Seconds a space's build may take before it fails."
    )
    spaces_uv_cache: Path | None = Field(
        default=None,
        description="Wheel cache shared by every space's build; `<data dir>/spaces/uv-cache` "
        "when unset.",
    )
    spaces_runner: SpacesRunner = Field(
        default=SpacesRunner.BUBBLEWRAP,
        description="What runs space apps: `bubblewrap` on this host, or `container` through the "
        "Docker-compatible engine at `HUGBOX_CONTAINER_HOST` (Docker, or podman's API service).",
    )
    container_host: str | None = Field(
        default=None,
        description="The container engine's API socket, e.g. `unix:///run/podman/podman.sock`: "
        "runs apps with `HUGBOX_SPACES_RUNNER=container`, and `sdk: docker` spaces (a "
        "CONFIG_ERROR when unset).",
    )
    spaces_base_image: str = Field(
        default="localhost/hugbox-debian-py:bookworm",
        description="Image space apps run in under the container runner (their venv and code "
        "mounted read-only); `hugbox spaces base-image` builds it.",
    )
    spaces_gradio_version: str = Field(
        default="6.31.0", description="Gradio version of spaces whose README names none."
    )
    spaces_streamlit_version: str = Field(
        default="1.67.0", description="Streamlit version of spaces whose README names none."
    )
    webhook_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Webhooks: internal hosts deliveries may reach, as a JSON list of host names, "
        'addresses or networks (["ci.internal", "10.0.0.0/8", "127.0.0.1"]). Public addresses '
        "are always allowed; loopback, private and link-local ones only when listed here.",
    )
    webhook_timeout: float = Field(
        default=10.0, gt=0, description="Webhooks: seconds one delivery attempt may take."
    )
    webhook_max_attempts: int = Field(
        default=5,
        ge=1,
        description="Webhooks: POSTs a delivery gets before it is logged as failed.",
    )
    webhook_retry_backoff: float = Field(
        default=1.0,
        ge=0,
        description="Webhooks: seconds before the first retry of a failed delivery; doubled "
        "after each further failure.",
    )
    kube_api_url: str | None = Field(
        default=None,
        description="With `HUGBOX_SPACES_RUNNER=kubernetes`: the Kubernetes API at a URL that "
        "needs no credentials, e.g. `kubectl proxy`'s `http://127.0.0.1:8001`; wins over "
        "`HUGBOX_KUBE_CONFIG`.",
    )
    kube_config: Path | None = Field(
        default=None,
        description="With `HUGBOX_SPACES_RUNNER=kubernetes`: the kubeconfig file of the cluster; "
        "when unset (and no `HUGBOX_KUBE_API_URL`), the pod's service account, then "
        "`$KUBECONFIG` or `~/.kube/config`.",
    )
    kube_namespace: str = Field(
        default="hugbox-spaces",
        description="The namespace of the spaces' Deployments and Services (one per hub).",
    )
    kube_image: str | None = Field(
        default=None,
        description="The image space pods run (their venv and code mounted read-only from the "
        "spaces volume every node mounts at the same path); `HUGBOX_SPACES_BASE_IMAGE` when "
        "unset.",
    )
    kube_hub_url: str | None = Field(
        default=None,
        description="The hub as space pods reach it (their `HF_ENDPOINT`), e.g. "
        "`http://hugbox.hugbox.svc:8000`; the hub's own address when unset.",
    )

    storage_quota_private: ByteSize | None = Field(
        default=None,
        description="A ceiling over every plan: bytes of private repos any user or org may store "
        "(e.g. `100GB`), whatever its plan allows; none when unset. Uploads over the lower of "
        "the two are refused at preupload / LFS batch.",
    )
    storage_quota_public: ByteSize | None = Field(
        default=None,
        description="A ceiling over every plan: bytes of public repos any user or org may "
        "store, whatever its plan allows; none when unset.",
    )
    plans_file: Path | None = Field(
        default=None,
        description="TOML file of the plans (rate limits, storage quotas, inference allowances, "
        "running spaces); unset: the shipped plans, which mirror Hugging Face's tiers.",
    )
    rate_limits: bool = Field(
        default=False,
        description="Enforce the plans' rate limits and inference allowances. Off, every "
        "response still carries the RateLimit headers (the anonymous plan's full quota).",
    )
    plan_cache_ttl: float = Field(
        default=30.0,
        description="Seconds a token's plan is cached by the rate limiter: how long a new plan "
        "assignment may take to apply to requests.",
    )

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'hugbox.db'}"

    @property
    def repos_dir(self) -> Path:
        return self.data_dir / "repos"

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "lfs"

    @property
    def xet_dir(self) -> Path:
        return self.data_dir / "xet"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def spaces_dir(self) -> Path:
        return self.data_dir / "spaces"

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"
