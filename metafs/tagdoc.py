"""``metafs tags [--writable] [GROUP|NAME]``: the tag paths metafs knows, and one tag."""

from __future__ import annotations

import sys

import engine

GROUPS = ("exif", "xmp", "iptc")


def _is_group(what: str) -> bool:
    w = what.lower()
    return w in GROUPS or ((w.startswith("xmp/") or w.startswith("xmp-")) and ":" not in w)


def main_tags(what: str | None, writable: bool) -> int:
    try:
        if what is None or _is_group(what):
            docs = engine.list_tags(what, writable)
            width = min(48, max((len(d.path) for d in docs), default=0))
            for d in docs:
                kind = d.kind + ("" if d.writable else ", read only")
                print(f"{d.path:<{width}}  {kind:<20}  {d.forms}")
            return 0
        d = engine.describe_tag(what)
    except engine.EngineError as e:
        print(f"metafs: {e}", file=sys.stderr)
        return 1
    print(f"{d.path}: {d.kind}{', a list' if d.is_list else ''}"
          f"{'' if d.writable else ', read only'}")
    print(f"  accepts: {d.forms}")
    if d.writable and d.example:
        value = d.example.replace('"', '\\"')
        print(f'  example: metafs write photo.jpg --set "{d.path}={value}"')
    if d.values:
        print("  values (printed = stored):")
        for raw, shown in d.values.items():
            print(f"    {shown} = {raw}")
    return 0
