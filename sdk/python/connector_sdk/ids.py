"""Deterministic record ids: UUIDv5 in a vendor's namespace over the JSON array of the parts
(kind first), byte for byte as the Rust SDK's `ids`, so every port of a connector mints the
same ids."""

import json
import uuid


class Ids:
    def __init__(self, vendor_url):
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, vendor_url)

    def id(self, *parts):
        name = json.dumps(list(parts), separators=(",", ":"), ensure_ascii=False)
        return str(uuid.uuid5(self.namespace, name))
