"""The domain error hierarchy shared by both packages.

Each class carries its HTTP status and a stable problem ``type`` slug; one handler in the web layer turns
any of them into RFC 9457 problem+json. It lives here because ``consent`` must not import ``geo_offers``,
while ``geo_offers`` may import ``consent``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error the service answers on purpose."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions
        self.headers: dict[str, str] = {}


class MalformedBody(DomainError):
    status = 400
    slug = "malformed-json"
    title = "The body is not valid JSON"


class InvalidInput(DomainError):
    status = 422
    slug = "invalid-input"
    title = "Invalid input"


class Unauthorized(DomainError):
    status = 401
    slug = "unauthorized"
    title = "Missing or invalid API key"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers["WWW-Authenticate"] = "Bearer"


class Forbidden(DomainError):
    status = 403
    slug = "forbidden"
    title = "Not allowed for this key"


class ConsentRequired(Forbidden):
    slug = "consent-required"
    title = "No active consent for this purpose"


class NotFound(DomainError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    slug = "conflict"
    title = "Conflict with the current state"


class MethodNotAllowed(DomainError):
    status = 405
    slug = "method-not-allowed"
    title = "Method not allowed"

    def __init__(self, detail: str, allow: list[str], **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers["Allow"] = ", ".join(allow)


class UnsupportedMediaType(DomainError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class PayloadTooLarge(DomainError):
    status = 413
    slug = "payload-too-large"
    title = "Request body too large"


class RateLimited(DomainError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, retry_after_s: int, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers["Retry-After"] = str(retry_after_s)


class ServiceUnavailable(DomainError):
    status = 503
    slug = "service-unavailable"
    title = "Service temporarily unavailable"

    def __init__(self, detail: str, retry_after_s: int = 2, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers["Retry-After"] = str(retry_after_s)


class NoticeOutdated(Conflict):
    slug = "notice-outdated"
    title = "The notice version is not the current one"


class NotActive(Conflict):
    slug = "consent-not-active"
    title = "There is no active consent to withdraw"
