"""The guest SDK for connectors written in Python (componentize-py), the same duties and helpers
as the Rust SDK (`sdk/`): the export adapter, an HTTP client over `wasi:http` that retries only
when the runtime does not, the contract's errors, settings read against the spec, deterministic
ids, RFC 3339 and HTTP dates, queries and `Link` paging, and a page read record by record.

A connector module defines a class with the calls of a configured instance and exports it:

    from connector_sdk import export
    class Acme: ...                 # describe(), __init__(runtime, settings), check(http), ...
    Connector = export(Acme)        # the name componentize-py looks for

The generated bindings (`wit_world`) come from `wit/guest` at build time (sdk/python/build.sh).
"""

from .adapter import export
from . import cursor, errors, http, ids, page, settings, time, url, wit

__all__ = ["export", "cursor", "errors", "http", "ids", "page", "settings", "time", "url", "wit"]
