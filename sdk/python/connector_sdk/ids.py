"""Deterministic record ids: UUIDv5 in a vendor's namespace over the JSON array of the parts
(kind first), byte for byte as the Rust SDK's `ids`, so every port of a connector mints the
same ids.

componentize-py's CPython has no `hashlib` (it is built without OpenSSL), so the UUIDs are made
here from a SHA-1 of this module's own; `uuid.uuid5` would fail on import."""

import json
import struct
import uuid


def sha1(data):
    """SHA-1 (FIPS 180-4) of `data`."""
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
    padded = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack(">Q", len(data) * 8)
    rotl = lambda x, n: ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF  # noqa: E731
    for off in range(0, len(padded), 64):
        w = list(struct.unpack(">16I", padded[off : off + 64]))
        for i in range(16, 80):
            w.append(rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1))
        a, b, c, d, e = h
        for i in range(80):
            if i < 20:
                f, k = (b & c) | (~b & d), 0x5A827999
            elif i < 40:
                f, k = b ^ c ^ d, 0x6ED9EBA1
            elif i < 60:
                f, k = (b & c) | (b & d) | (c & d), 0x8F1BBCDC
            else:
                f, k = b ^ c ^ d, 0xCA62C1D6
            a, b, c, d, e = (rotl(a, 5) + f + e + k + w[i]) & 0xFFFFFFFF, a, rotl(b, 30), c, d
        h = [(x + y) & 0xFFFFFFFF for x, y in zip(h, (a, b, c, d, e))]
    return struct.pack(">5I", *h)


def uuid5(namespace, name):
    digest = bytearray(sha1(namespace.bytes + name.encode("utf-8"))[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return uuid.UUID(bytes=bytes(digest))


class Ids:
    def __init__(self, vendor_url):
        self.namespace = uuid5(uuid.NAMESPACE_URL, vendor_url)

    def id(self, *parts):
        name = json.dumps(list(parts), separators=(",", ":"), ensure_ascii=False)
        return str(uuid5(self.namespace, name))
