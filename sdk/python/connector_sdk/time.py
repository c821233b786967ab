"""Timestamps: the contract's RFC 3339 UTC form from ISO 8601 strings and HTTP dates."""

import datetime as _dt
import email.utils


def parse(value):
    """An aware UTC datetime, or `None`; a missing zone is UTC, a space may stand for `T`."""
    try:
        t = _dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
    except (ValueError, AttributeError):
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    return t.astimezone(_dt.timezone.utc)


def to_rfc3339_utc(value):
    """`YYYY-MM-DDTHH:MM:SS[.fff]Z`; a value already in that form is returned unchanged."""
    if value is None:
        return None
    raw = value.strip()
    t = parse(raw)
    if t is None:
        return None
    if len(raw) >= 20 and raw[10] == "T" and raw.endswith("Z"):
        return raw
    return format_rfc3339(t)


def format_rfc3339(t):
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{t.microsecond // 1000:03d}Z" if t.microsecond else f"{base}Z"


def http_date_seconds(value):
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def rfc3339_of_http_date(value):
    """`Sun, 06 Nov 1994 08:49:37 GMT` as `1994-11-06T08:49:37Z`."""
    seconds = http_date_seconds(value) if value else None
    if seconds is None:
        return None
    return format_rfc3339(_dt.datetime.fromtimestamp(seconds, _dt.timezone.utc))
