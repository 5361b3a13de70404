"""IPTCDigest (Photoshop resource 0x0425): the MD5 of the IIM block.

Photoshop compares it with the IIM data to tell whether another program changed the IPTC.  If
the old digest matched the old data, we write the digest of the new data; if it did not match,
it already said "changed elsewhere", and we leave it as it is (ExifTool does the same).
"""

from __future__ import annotations

import hashlib

from engine.iptc.photoshop import IPTC_DIGEST_ID, Resource


def update_digest(resources: list[Resource], old: bytes | None, new: bytes) -> None:
    for r in resources:
        if r.rid == IPTC_DIGEST_ID and old is not None and r.data == hashlib.md5(old).digest():
            r.data = hashlib.md5(new).digest()
