"""The simulator's errors. Protocol errors carry a cXML status code; one handler renders them.

A ``CxmlError`` becomes ``<Response><Status code=… text=…>message</Status></Response>``; an
``AdminError`` becomes ``{"error": code, "message": text}`` with an HTTP 4xx.
"""

from __future__ import annotations


class SimulatorError(Exception):
    """Base of every error the simulator raises on purpose."""


class CxmlError(SimulatorError):
    """A request the simulator refuses, answered with a cXML Status of ``code``."""

    code: int = 500
    text: str = "Internal Server Error"
    http_status: int | None = None  # forced HTTP status (413), whatever the account says

    def __init__(self, message: str, *, account_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.account_id = account_id


class BadRequest(CxmlError):
    code, text = 400, "Bad Request"


class Unauthorized(CxmlError):
    code, text = 401, "Unauthorized"


class Forbidden(CxmlError):
    code, text = 403, "Forbidden"


class NotAcceptable(CxmlError):
    code, text = 406, "Not Acceptable"


class Conflict(CxmlError):
    code, text = 409, "Conflict"


class RequestTooLarge(CxmlError):
    code, text, http_status = 413, "Request Entity Too Large", 413


class NotImplementedRequest(CxmlError):
    code, text = 450, "Not Implemented"


class InternalError(CxmlError):
    code, text = 500, "Internal Server Error"


class AdminError(SimulatorError):
    """An admin API call that cannot be served: JSON ``{"error", "message"}`` with ``status``."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


class NotFound(AdminError):
    def __init__(self, what: str, key: str) -> None:
        super().__init__(404, "not_found", f"No {what} with id {key!r}.")


class ShopError(SimulatorError):
    """A problem in the browser shop, shown to the shopper as an HTML page with ``status``."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
