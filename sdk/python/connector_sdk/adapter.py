"""The generated `Connector` protocol over a connector class: the configured instance is kept
between calls (exports are module-level in a component), and each call gets the HTTP client it
must use, retrying when the runtime says it does not."""

from componentize_py_types import Err

from . import http as _http
from .wit import types as t

_configured = None


def export(cls):
    """The class componentize-py exports (name it `Connector` in the app module)."""

    def call(method, *args):
        if _configured is None:
            raise Err(t.ConnectorError_InvalidConfig("`configure` was not called"))
        instance, retries_transient = _configured
        client = _http.WasiHttp() if retries_transient else _http.Retrying(_http.WasiHttp())
        return getattr(instance, method)(client, *args)

    class Connector:
        def describe(self):
            return cls.describe()

        def configure(self, runtime, settings):
            global _configured
            _configured = (cls(runtime, settings), runtime.retries_transient)

        def check(self):
            return call("check")

        def list_resources(self, cursor):
            return call("list_resources", cursor)

        def list_findings(self, query):
            return call("list_findings", query)

    return Connector
