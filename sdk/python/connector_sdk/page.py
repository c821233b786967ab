"""A page of vendor records read one by one: an unreadable record is skipped with a reason
naming where it was, and the rest of the page stands."""

import json

from .wit import types as t


def read_each(what, raw, vendor_id, read):
    """`(items, skipped)`: each of `raw` through `read`; one that raises is skipped with the
    reason `{what}[{index}] (record {id}): {error}`."""
    items, skipped = [], []
    for i, record in enumerate(raw):
        try:
            items.append(read(record))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            rid = vendor_id(record)
            at = f"{what}[{i}] (record {rid})" if rid is not None else f"{what}[{i}]"
            skipped.append(t.SkippedRecord(vendor_id=rid, reason=f"{at}: {e!r}"))
    return items, skipped


def json_field(raw, name):
    value = raw.get(name) if isinstance(raw, dict) else None
    if isinstance(value, bool) or value is None:
        return None
    return str(value) if isinstance(value, (str, int, float)) else None


def vendor_data(raw):
    """The vendor's record as compact JSON with sorted keys: the same text as the Rust SDK's."""
    return json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
