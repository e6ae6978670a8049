"""Errors of the Inference API, in the shapes HF's inference clients parse (spec §1.4)."""

from __future__ import annotations

from typing import Any

from hugbox.errors import BadRequest, Forbidden, HubError, ServiceUnavailable, TooManyRequests


class InferenceInputError(BadRequest):
    """The pipeline refused the input (HF: 400 with the exception's text)."""


class ModelTooLarge(Forbidden):
    def __init__(self, repo_id: str, size: int, limit: int):
        gb = 1024**3
        super().__init__(
            f"The model {repo_id} is too large to be loaded automatically "
            f"({size / gb:.1f}GB > {limit / gb:.1f}GB). Raise HUGBOX_INFERENCE_MAX_MODEL_BYTES "
            "to serve it."
        )


class ModelLoading(ServiceUnavailable):
    def __init__(self, repo_id: str, estimated_time: float):
        seconds = max(1, round(estimated_time))
        super().__init__(
            f"Model {repo_id} is currently loading", headers={"Retry-After": str(seconds)}
        )
        self.estimated_time = float(seconds)

    def extra_body(self, base_url: str) -> dict[str, Any]:
        return {"estimated_time": self.estimated_time}


class ModelOverloaded(TooManyRequests):
    def __init__(self, retry_after: int = 1):
        super().__init__("Model is overloaded", headers={"Retry-After": str(retry_after)})

    def extra_body(self, base_url: str) -> dict[str, Any]:
        return {"error_type": "overloaded"}


class ModelNotLoadable(BadRequest):
    """The repo's files do not load as a model for the task (no weights, a broken config...):
    the repo's content is at fault, not the server (HF: 400 "Could not load model ...")."""


class ModelFailed(HubError):
    """Loading the model, or running it, failed on the server's side."""

    status_code = 500


class ModelTimeout(HubError):
    """A request outlived the executor's deadline (the model is too slow for what was asked)."""

    status_code = 504

    def __init__(self, repo_id: str, seconds: float):
        super().__init__(
            f"Model {repo_id} did not answer within {seconds:.0f} s; ask for less work (fewer "
            "inputs, a smaller max_new_tokens) or raise HUGBOX_INFERENCE_DEADLINE"
        )


class ClientLeft(HubError):
    """The client hung up before its answer was ready: the work was cancelled, and nobody
    reads this (nginx's 499, in the access log)."""

    status_code = 499
    default_message = "The client closed the connection before the answer was ready"
