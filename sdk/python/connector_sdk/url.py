"""URLs: queries built with percent-encoding (`,` kept, as APIs read lists), the `rel="next"`
target of a `Link` header, and origins compared."""

import re
from urllib.parse import quote, unquote_plus, urlsplit


def with_query(base, pairs):
    encoded = "&".join(f"{quote(str(k), safe='-._~,')}={quote(str(v), safe='-._~,')}" for k, v in pairs)
    if not encoded:
        return base
    return f"{base}{'&' if '?' in base else '?'}{encoded}"


def query_param(url, name):
    query = url.partition("?")[2].partition("#")[0]
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if unquote_plus(key) == name:
            return unquote_plus(value)
    return None


_LINK = re.compile(r"<([^>]*)>([^<]*)")


def link(header, rel):
    for target, params in _LINK.findall(header or ""):
        for param in params.split(";"):
            key, _, value = param.partition("=")
            rels = value.strip().rstrip(",").strip().strip('"').split()
            if key.strip().lower() == "rel" and rel in (r.lower() for r in rels):
                return target.strip()
    return None


def next_link(header):
    return link(header, "next")


def origin(url):
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{parts.hostname}" + ("" if port in (None, default) else f":{port}")


def same_origin(a, b):
    return origin(a) is not None and origin(a) == origin(b)
