"""The dataset viewer's errors, with HF's codes (spec A.1.4); rendered by the one handler."""

from __future__ import annotations

from hugbox.errors import HubError


class ViewerError(HubError):
    status_code = 500
    error_code = "UnexpectedApiError"


class MissingRequiredParameter(ViewerError):
    status_code = 422
    error_code = "MissingRequiredParameter"


class InvalidParameter(ViewerError):
    status_code = 422
    error_code = "InvalidParameter"


class ExternalUnauthenticated(ViewerError):
    status_code = 401
    error_code = "ExternalUnauthenticatedError"
    default_message = (
        "The dataset does not exist, or is not accessible without authentication (private or "
        "gated). Please check the spelling of the dataset name or retry with authentication."
    )


class ExternalAuthenticated(ViewerError):
    status_code = 404
    error_code = "ExternalAuthenticatedError"
    default_message = (
        "The dataset does not exist, or is not accessible with the current credentials (private "
        "or gated). Please check the spelling of the dataset name or retry with other "
        "authentication credentials."
    )


class ResponseNotFound(ViewerError):
    status_code = 404
    error_code = "ResponseNotFound"
    default_message = "Not found."


class ResponseNotReady(ViewerError):
    """Work in progress. HF answers 500; we say 503 with Retry-After, which clients that poll
    read the same (they branch on X-Error-Code) and which no monitor mistakes for a crash."""

    status_code = 503
    error_code = "ResponseNotReady"
    default_message = (
        "The server is busier than usual and the response is not ready yet. Please retry later."
    )

    def __init__(self, message: str | None = None):
        super().__init__(message, headers={"Retry-After": "2"})


class SearchFeatureNotAvailable(ViewerError):
    status_code = 400
    error_code = "SearchFeatureNotAvailableError"


class StoredError(ViewerError):
    """An error the conversion recorded (malformed file, disabled viewer...), served as is."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.error_code = code
        # As HF: "not supported" (a disabled viewer...) is 501, a failed conversion 500.
        self.status_code = 501 if code.startswith("NotSupported") else 500
