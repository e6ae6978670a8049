"""The one error tree: every error a client may see, with its status and error code.

Services raise these without knowing HTTP; `hugbox.error_responses` renders them the way HF
clients parse errors. This module imports no web framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class HubError(Exception):
    """Base of every error a client may see. Subclasses set the status and the error code."""

    status_code: int = 400
    error_code: str | None = None
    default_message: str = "Bad request"

    def __init__(self, message: str | None = None, *, headers: Mapping[str, str] | None = None):
        self.message = message or self.default_message
        self.headers = dict(headers or {})
        super().__init__(self.message)

    def extra_body(self, base_url: str) -> dict[str, Any]:
        """Fields clients read beside `error` (most errors have none)."""
        return {}


class BadRequest(HubError):
    status_code = 400


class InvalidCredentials(HubError):
    status_code = 401
    default_message = "Invalid credentials in Authorization header"


class AuthenticationRequired(HubError):
    status_code = 401
    default_message = "Authentication required: pass a token with `Authorization: Bearer hf_...`"


class Forbidden(HubError):
    status_code = 403
    default_message = "You don't have the rights to do this"


class RepoNotFound(HubError):
    """A missing repo, or one the caller may not see: the two must look the same."""

    error_code = "RepoNotFound"
    default_message = "Repository not found"

    def __init__(self, *, anonymous: bool, headers: Mapping[str, str] | None = None):
        # Anonymous callers get 401 so clients know that a token might help.
        self.status_code = 401 if anonymous else 404
        super().__init__(headers=headers)


class GatedRepo(HubError):
    error_code = "GatedRepo"

    def __init__(
        self, *, repo_id: str, repo_type: str, anonymous: bool, repo_url: str,
        request: str | None = None,
    ):  # fmt: skip
        """`request`: the status of the caller's access request, if any (HF words each)."""
        self.status_code = 401 if anonymous else 403
        what = f"{repo_type} {repo_id}"
        template = _GATED_REQUEST_TEXTS.get(request or "")
        if template is not None:
            message = template.format(what=what)
        elif anonymous:
            message = (
                f"Access to {what} is restricted. You must have access to it "
                "and be authenticated to access it. Please log in."
            )
        else:
            message = (
                f"Access to {what} is restricted and you are not in the authorized "
                f"list. Visit {repo_url} to ask for access."
            )
        super().__init__(message)


_GATED_REQUEST_TEXTS = {
    "pending": "Your request to access {what} is awaiting a review from the repo authors.",
    "rejected": "Your request to access {what} has been rejected by the repo's authors.",
}


class RepoNotGated(BadRequest):
    """Asking for access to a repo that is open to all who see it (clients take it as "fine")."""

    status_code = 400
    error_code = "RepoNotGated"


class DisabledRepo(HubError):
    status_code = 403
    default_message = "Access to this resource is disabled."


class RevisionNotFound(HubError):
    status_code = 404
    error_code = "RevisionNotFound"

    def __init__(self, revision: str):
        super().__init__(f"Invalid rev id: {revision}")


class EntryNotFound(HubError):
    status_code = 404
    error_code = "EntryNotFound"
    default_message = "Entry not found"

    def __init__(self, message: str | None = None, *, commit: str | None = None):
        # X-Repo-Commit lets clients cache the miss (transformers relies on it).
        super().__init__(message, headers={"X-Repo-Commit": commit} if commit else None)


class NotFound(HubError):
    status_code = 404
    default_message = "Not found"


class Conflict(HubError):
    status_code = 409
    default_message = "Conflict"


class RepoExists(Conflict):
    """Create on an existing repo: clients (`exist_ok=True`) read its `url` from the body."""

    def __init__(self, *, repo_type: str, url_path: str):
        super().__init__(f"You already created this {repo_type} repo")
        self.url_path = url_path

    def extra_body(self, base_url: str) -> dict[str, Any]:
        return {"url": f"{base_url}/{self.url_path}"}


class CollectionExists(Conflict):
    """Create with a title the namespace already has: `exists_ok=True` reads its `slug`."""

    def __init__(self, *, slug: str):
        super().__init__("You already have a collection with this title")
        self.slug = slug

    def extra_body(self, base_url: str) -> dict[str, Any]:
        return {"slug": self.slug}


class PreconditionFailed(HubError):
    status_code = 412
    default_message = (
        "The branch was updated since you opened this page. Please refresh and try again."
    )


class PayloadTooLarge(HubError):
    status_code = 413
    default_message = "Payload too large"


class UnprocessableEntity(HubError):
    status_code = 422


class UriTooLong(HubError):
    status_code = 414
    default_message = "URI too long"


class HeaderFieldsTooLarge(HubError):
    status_code = 431
    default_message = "Request header fields too large"


class ServiceUnavailable(HubError):
    status_code = 503
    default_message = "Service unavailable"


class TooManyRequests(HubError):
    status_code = 429
    default_message = "Too many requests"


class Redirect(HubError):
    """Not a failure: a moved repo answers its old id with a redirect to the new one."""

    status_code = 307

    def __init__(self, location: str):
        super().__init__("Moved", headers={"Location": location})


class PaymentRequired(HubError):
    """An allowance is spent (HF's Inference Providers answer spent credits with 402)."""

    status_code = 402
    default_message = "Payment required"
