"""Opaque cursors, `tag:position`; one from another listing is refused with `invalid-cursor`."""

from .errors import invalid_cursor


def encode(tag, position):
    return f"{tag}:{position}"


def decode(tag, cursor):
    prefix = f"{tag}:"
    if not cursor.startswith(prefix):
        raise invalid_cursor(f"{cursor[:80]!r} is not a `{tag}` cursor issued by this connector")
    return cursor[len(prefix):]


def offset(tag, n):
    return encode(tag, str(n))


def offset_of(tag, cursor):
    if cursor is None:
        return 0
    position = decode(tag, cursor)
    if not position.isdigit():
        raise invalid_cursor(f"{cursor[:80]!r} is not a `{tag}` cursor issued by this connector")
    return int(position)
