"""HTTP outcomes as the contract's `connector-error`s, raised as `Err(...)` (what componentize-py
returns as a `result` error). Each names its endpoint."""

import json as _json

from componentize_py_types import Err

from .http import SendError, retry_after
from .wit import types as t

MAX_VENDOR_MESSAGE = 200


def invalid_config(message):
    return Err(t.ConnectorError_InvalidConfig(message))


def invalid_cursor(message):
    return Err(t.ConnectorError_InvalidCursor(message))


def transport(endpoint, failure):
    return Err(t.ConnectorError_Transport(f"{endpoint}: {failure}"))


def malformed(endpoint, detail):
    return Err(t.ConnectorError_MalformedResponse(t.Malformed(endpoint=endpoint, detail=detail)))


def from_status(endpoint, response, message, not_found):
    said = f" (the server says: {message})" if message else ""
    status = response.status
    if status == 401:
        return Err(t.ConnectorError_Unauthorized(f"{endpoint}: 401 Unauthorized: the credential is invalid or expired{said}"))
    if status == 403:
        return Err(t.ConnectorError_Forbidden(f"{endpoint}: 403 Forbidden: the credential may not do this{said}"))
    if status == 404:
        return Err(t.ConnectorError_NotFound(f"{endpoint}: 404 Not Found: {not_found}{said}"))
    if status == 429:
        wait = retry_after(response.header("retry-after"))
        return Err(t.ConnectorError_RateLimited(t.RateLimit(
            endpoint=endpoint,
            retry_after_seconds=None if wait is None else int(wait),
            message=message or "rate limited",
        )))
    return Err(t.ConnectorError_Upstream(t.UpstreamFailure(endpoint=endpoint, status=status, message=message or "no error message")))


def body_message(body):
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("<"):
        return "a non-JSON (HTML) error page"
    return "".join(c for c in text if c.isprintable())[:MAX_VENDOR_MESSAGE]


def success(endpoint, http, request, not_found):
    """The response to `request` when it succeeded (2xx); otherwise raises the error it means."""
    try:
        response = http.send(request)
    except SendError as e:
        raise transport(endpoint, e.message) from None
    if not response.ok():
        raise from_status(endpoint, response, body_message(response.body), not_found)
    return response


def json(endpoint, response):
    """The body as JSON, or `malformed-response` saying where it was wrong."""
    try:
        return _json.loads(response.body)
    except ValueError as e:
        raise malformed(endpoint, f"not the documented JSON: {e}") from None
