"""Compare what metafs reads with what ExifTool reads (shared by the test and scripts/compat.py).

ExifTool's side is ``exiftool -j -G1 -a``; metafs's side is ``metafs read --json -G`` (keys
``Group:Name``).  Numbers are kept as their literal text so ``5.6`` compares as ``"5.6"``.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

EXIF_GROUPS = ("IFD0", "ExifIFD", "GPS", "InteropIFD", "IFD1")


def in_scope(group: str) -> bool:
    return group in EXIF_GROUPS or group.startswith("XMP-") or group == "IPTC"


def family(group: str) -> str:
    return "XMP" if group.startswith("XMP-") else group


_BINARY = re.compile(r"^\(Binary data \d+ bytes")


def is_binary(value: object) -> bool:
    return isinstance(value, str) and (bool(_BINARY.match(value)) or value.startswith("base64:"))


def load_json(text: str) -> list[dict]:
    return json.loads(text, parse_float=str, parse_int=str)


def exiftool_json(files: list[str]) -> dict[str, dict]:
    out = subprocess.run(
        ["exiftool", "-j", "-G1", "-a", *files], capture_output=True, text=True, check=False
    ).stdout
    return {d["SourceFile"]: d for d in load_json(out)} if out.strip() else {}


def as_list(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def same(ours: object, ref: object) -> bool:
    """ExifTool's JSON turns "True"/"true" into a boolean: compare those without case."""
    a, b = as_list(ours), as_list(ref)
    refs = ref if isinstance(ref, list) else [ref]
    if len(a) != len(b):
        return False
    return all(x == y or (isinstance(r, bool) and x.lower() == y.lower())
               for x, y, r in zip(a, b, refs, strict=True))


@dataclass
class Figures:
    total: Counter = field(default_factory=Counter)
    present: Counter = field(default_factory=Counter)
    exact: Counter = field(default_factory=Counter)
    missing: list[tuple[str, str, str]] = field(default_factory=list)
    wrong: list[tuple[str, str, str, str]] = field(default_factory=list)
    # which family-1 groups count, and the row each is counted in
    scope: Callable[[str], bool] = in_scope
    family: Callable[[str], str] = family

    def add_file(self, name: str, ref: dict, ours: dict) -> None:
        for key, value in ref.items():
            if ":" not in key:
                continue
            group = key.split(":", 1)[0]
            if not self.scope(group) or is_binary(value):
                continue
            fam = self.family(group)
            self.total[fam] += 1
            if key not in ours:
                self.missing.append((name, key, str(value)[:80]))
                continue
            self.present[fam] += 1
            if same(ours[key], value):
                self.exact[fam] += 1
            else:
                self.wrong.append((name, key, str(value)[:80], str(ours[key])[:80]))

    def ratio(self, counter: Counter, fam: str | None = None) -> float:
        total = sum(self.total.values()) if fam is None else self.total[fam]
        got = sum(counter.values()) if fam is None else counter[fam]
        return got / total if total else 1.0

    def report(self, show: int = 0, group: str | None = None) -> str:
        lines = [f"{'group':<12}{'tags':>7}{'present':>10}{'exact':>10}"]
        for fam in sorted(self.total):
            lines.append(
                f"{fam:<12}{self.total[fam]:>7}{self.ratio(self.present, fam):>10.2%}"
                f"{self.ratio(self.exact, fam):>10.2%}"
            )
        lines.append(
            f"{'all':<12}{sum(self.total.values()):>7}{self.ratio(self.present):>10.2%}"
            f"{self.ratio(self.exact):>10.2%}"
        )
        if show:
            def keep(key: str) -> bool:
                return group is None or key.split(":", 1)[0].startswith(group)

            miss = [m for m in self.missing if keep(m[1])]
            wrong = [w for w in self.wrong if keep(w[1])]
            top = Counter(m[1] for m in miss).most_common(15)
            lines.append(f"-- missing ({len(miss)}), by tag: {top}")
            lines += [f"  {n}  {k} = {v!r}" for n, k, v in miss[:show]]
            top = Counter(w[1] for w in wrong).most_common(15)
            lines.append(f"-- wrong value ({len(wrong)}), by tag: {top}")
            lines += [f"  {n}  {k}: exiftool {v!r} ours {o!r}" for n, k, v, o in wrong[:show]]
        return "\n".join(lines)


def corpus_files(corpus: Path) -> list[Path]:
    skip = ("README.md", "inventory.tsv")
    return sorted(p for p in corpus.rglob("*") if p.is_file() and p.name not in skip)


def compare(ref: dict[str, dict], ours: dict[str, dict], names: Iterable[str],
            scope: Callable[[str], bool] = in_scope,
            family: Callable[[str], str] = family) -> Figures:
    """ExifTool's tags (``ref``) that ``ours`` shows, and shows exactly, per group."""
    figures = Figures(scope=scope, family=family)
    for name in names:
        if name in ref:
            figures.add_file(name, ref[name], ours.get(name, {}))
    return figures
