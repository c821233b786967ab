"""The HTTP seam: `WasiHttp` sends through `wasi:http/outgoing-handler`; `Retrying` wraps it with
the bounded retry policy for runtimes that do not retry. Credentials are never set here: the
runtime attaches them (see the contract)."""

import random
import time as _time
from dataclasses import dataclass, field

from componentize_py_types import Err
from wit_world.imports import outgoing_handler, streams
from wit_world.imports import wasi_http_types as h

from . import time as _time_mod

RETRYABLE = (408, 429, 500, 502, 503, 504)


@dataclass
class Request:
    url: str
    method: str = "GET"
    headers: list = field(default_factory=list)
    body: bytes = b""

    @staticmethod
    def get_json(url):
        return Request(url).header("accept", "application/json")

    def header(self, name, value):
        """Sets header `name`, replacing every value it had."""
        name = name.lower()
        self.headers = [(n, v) for n, v in self.headers if n != name] + [(name, value)]
        return self


@dataclass
class Response:
    status: int
    headers: list
    body: bytes

    def header(self, name):
        name = name.lower()
        return next((v for n, v in self.headers if n == name), None)

    def ok(self):
        return 200 <= self.status < 300


class SendError(Exception):
    """No response at all: the runtime refused the request (never retried), or it failed."""

    def __init__(self, message, refused=False):
        super().__init__(message)
        self.message = message
        self.refused = refused


class WasiHttp:
    """Requests through `wasi:http/outgoing-handler`. Every WASI resource is dropped, child
    before parent, as soon as it is done with (`with`): the runtime refuses to drop a resource
    that still has children, and Python's garbage collector keeps no such order."""

    def send(self, request):
        scheme, _, rest = request.url.partition("://")
        cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
        authority, path = rest[:cut], rest[cut:] or "/"
        if path.startswith("?"):
            path = "/" + path
        try:
            outgoing = h.OutgoingRequest(h.Fields.from_list([(n, v.encode()) for n, v in request.headers]))
            outgoing.set_method(h.Method_Get() if request.method == "GET" else h.Method_Post())
            outgoing.set_scheme(h.Scheme_Https() if scheme == "https" else h.Scheme_Http())
            outgoing.set_authority(authority)
            outgoing.set_path_with_query(path)
            body = outgoing.body()
            future = outgoing_handler.handle(outgoing, None)
            with body.write() as stream:
                for i in range(0, len(request.body), 4096):
                    stream.blocking_write_and_flush(request.body[i : i + 4096])
            h.OutgoingBody.finish(body, None)
        except Err as e:
            raise _failure(request, e.value) from None
        with future:
            while (answer := future.get()) is None:
                with future.subscribe() as ready:
                    ready.block()
        if isinstance(answer, Err):
            raise SendError(f"{request.url}: the response was already taken")
        if isinstance(answer.value, Err):
            raise _failure(request, answer.value.value)
        with answer.value.value as response:
            return _read(response)


def _failure(request, error):
    refused = isinstance(error, h.ErrorCode_HttpRequestDenied)
    return SendError(f"{request.url}: {type(error).__name__.removeprefix('ErrorCode_')}", refused)


def _read(response):
    headers = [(n.lower(), v.decode("utf-8", "replace")) for n, v in response.headers().entries()]
    chunks = []
    with response.consume() as body, body.stream() as stream:
        while True:
            try:
                chunks.append(stream.blocking_read(1 << 20))
            except Err as e:
                if isinstance(e.value, streams.StreamError_Closed):
                    break
                raise SendError("reading the body failed") from None
    return Response(response.status(), headers, b"".join(chunks))


class Retrying:
    """Retries transport failures, 408, 429 and 5xx (never a refusal), at most 3 times, waiting
    out `Retry-After` up to 60 s in either form, else backing off exponentially with jitter."""

    def __init__(self, inner, max_retries=3, max_wait=60.0, sleep=_time.sleep):
        self.inner, self.max_retries, self.max_wait, self.sleep = inner, max_retries, max_wait, sleep
        self.retries = 0

    def send(self, request):
        for attempt in range(self.max_retries + 1):
            try:
                response = self.inner.send(request)
            except SendError as e:
                if e.refused or attempt == self.max_retries:
                    raise
                self._pause(attempt, None)
                continue
            if response.status not in RETRYABLE or attempt == self.max_retries:
                return response
            wait = retry_after(response.header("retry-after"))
            if wait is not None and wait > self.max_wait:
                return response
            self._pause(attempt, wait)
        return response

    def _pause(self, attempt, wait):
        self.retries += 1
        self.sleep(wait if wait is not None else min(0.5 * 2**attempt, 8.0) * (0.5 + random.random() / 2))


def retry_after(value):
    """`Retry-After` in seconds, from delay-seconds or an HTTP date; `None` when absent or bad."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    at = _time_mod.http_date_seconds(value)
    return None if at is None else max(0.0, at - _time.time())
