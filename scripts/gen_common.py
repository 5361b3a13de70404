"""What the tag-table generators (scripts/gen_*_tags.py) share: their arguments and reading
``exiftool -listx``."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from lxml import etree


def arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listx", help="a saved `exiftool -f -listx` output (default: run it)")
    ap.add_argument("--perl-dir", default="/usr/share/perl5/Image/ExifTool")
    return ap.parse_args()


def listx_root(listx: str | None, group: str, huge: bool = False) -> etree._Element:
    """The tag database of ``group`` (``-XMP:All``...), from ``listx`` or from exiftool."""
    if listx:
        xml = Path(listx).read_bytes()
    else:
        xml = subprocess.run(["exiftool", "-f", "-listx", group], capture_output=True,
                             check=True).stdout
    return etree.fromstring(xml, etree.XMLParser(resolve_entities=False, huge_tree=huge))


def english(el: etree._Element) -> str:
    """The English text of a -listx ``<key>`` or ``<tag>``."""
    for v in el.findall("val"):
        if v.get("lang") == "en":
            return v.text or ""
    return ""
