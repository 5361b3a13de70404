#!/usr/bin/env python3
"""Generate engine/makernotes/tables.py from ``exiftool -listx`` and ExifTool's modules.

    scripts/gen_makernote_tags.py [--listx saved.xml] [--perl-dir /usr/share/perl5/Image/ExifTool]

From ``-listx``: every MakerNotes table of the makers in ``MODULES`` (tag ids, names, formats,
counts, English value maps).  From the ``.pm`` files, as facts: each table's kind (an IFD or
ProcessBinaryData), its ``FORMAT`` and ``FIRST_ENTRY``, and which tag ids of a table are an
unconditional ``SubDirectory`` (and whether the sub-directory is inside the value or at the
offset the value gives).  Model-specific tables chosen by Perl conditions are left out.
"""

from __future__ import annotations

import pprint
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_common import arguments, english, listx_root  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "engine" / "makernotes" / "tables.py"
MODULES = ("Apple", "Canon", "CanonCustom", "CanonRaw", "Casio", "DJI", "FujiFilm", "GE", "JVC",
           "Kodak", "Minolta", "MinoltaRaw", "Motorola", "Nikon", "NikonCapture", "NikonCustom",
           "Nintendo", "Olympus", "Panasonic", "PhaseOne", "Pentax", "Reconyx", "Ricoh",
           "Samsung", "Sanyo", "Sigma", "Sony", "Qualcomm", "FLIR", "Unknown")
# Model-specific or undecodable tables (picked by Perl conditions, encrypted): left out.
SKIP = re.compile(r"::(ShotInfo[A-Z0-9]|.*Encrypted)")
# the APP1 FLIR segment's FFF tables (not maker notes, read the same way: FLIR.pm)
FLIR_TABLES = frozenset(f"FLIR::{t}" for t in (
    "FFF", "Header", "RawData", "CameraInfo", "PaletteInfo", "PiP", "GPSInfo", "MeterLink",
    "GainDeadData", "CoarseData", "EmbeddedImage", "PaintData"))
# the blocks of a Minolta MRW file read as maker notes (engine.makernotes.mrw)
MRW_TABLES = ("MinoltaRaw::PRD", "MinoltaRaw::WBG", "MinoltaRaw::RIF")
TOP_KEY = re.compile(r"^    (0x[0-9a-fA-F]+|\d+(?:\.\d+)?|[a-z]\w*) *=> ", re.M)  # (words: PLIST)


def perl_tables(perl_dir: Path, module: str) -> dict[str, dict]:
    """table name -> {kind, format, first, subdirs} read from the module's source."""
    src_path = perl_dir / f"{module}.pm"
    if not src_path.exists():
        return {}
    src = src_path.read_text(encoding="latin-1")
    # shared attribute sets ("my %nikonFocalConversions = (...);" used as "%name,"): inline
    shared = dict(re.findall(r"^my %(\w+) = \((.*?)^\);", src, re.M | re.S))
    shared.update(re.findall(r"^my %(\w+) = \(([^\n]*)\);[ \t]*(?:#.*)?$", src, re.M))
    # (indented deeper, so that its lines are never taken for the table's own keys)
    src = re.sub(r"(?<![\\\w])%(\w+)(?=\s*[,}])",
                 lambda m: shared[m.group(1)].replace("\n", "\n" + " " * 12) + ","
                 if m.group(1) in shared else m.group(0), src)
    out = {}
    for m in re.finditer(r"^%Image::ExifTool::(\w+::\w+) = \((.*?)^\);", src, re.M | re.S):
        name, body = m.group(1), m.group(2)
        keys = list(TOP_KEY.finditer(body))
        head = body[: keys[0].start()] if keys else body
        binary = "ProcessBinaryData" in head or "%binaryDataAttrs" in head
        proc = re.search(r"PROCESS_PROC => \\&(?:\w+::)*(\w+)", head)
        kind = {"ProcessSerialData": "serial", "ProcessCanonCustom": "custom1",
                "ProcessCanonCustom2": "custom2",
                "ProcessBinaryPLIST": "plist",
                "ProcessEnciphered": "cipher",
                "ProcessNikonCapture": "capture",
                "ProcessFLIR": "fff", "ProcessCanonRaw": "ciff", "ProcessCTMD": "ctmd",
                "ProcessExifInfo": "exifinfo", "ProcessFilters": "skip",
                "ProcessSR2": "ifd", "ProcessPhaseOne": "phaseone",
                "ProcessNikonCaptureOffsets": "offsets"}.get(
                    proc.group(1) if proc else "")
        kind = kind or ("binary" if binary else "ifd")
        fmt = re.search(r"FORMAT => '(\w+)'", head)
        first = re.search(r"FIRST_ENTRY => (\d+)", head)
        subdirs, convs = {}, {}
        for i, k in enumerate(keys):
            chunk = body[k.end(): keys[i + 1].start() if i + 1 < len(keys) else len(body)]
            variants = tag_code(chunk, shared)
            key = k.group(1) if k.group(1)[0].isalpha() or "." in k.group(1) else \
                int(k.group(1), 0)
            convs[key] = [v for v in variants if "s" not in v[1][4]]
            # (an encrypted sub-directory is a variant that shows nothing: never guessed)
            subs = tuple((v[1][0], v[2] if "e" not in v[1][4] else "", v[3])
                         for v in variants if "s" in v[1][4] and v[2])
            if subs:
                subdirs[key] = subs
        table_print = re.search(r"PRINT_CONV => \\&(?:\w+::)*(\w+)", head)
        out[name] = {"print": table_print and "\\&" + table_print.group(1), "kind": kind,
                     "format": fmt and fmt.group(1),
                     "first": int(first.group(1)) if first else 0, "subdirs": subdirs,
                     "convs": convs}
    return out


PERL_STRING = re.compile(r"""'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|q[{\[(]|sub \{""")
# the first statement of an anonymous sub that only names its arguments
SUB_ARGS = re.compile(r"\s*(my (\$val|\(\$val(, ?\$self)?\))|\$_) = (shift|@_);")
CLOSE = {"{": "}", "[": "]", "(": ")"}


def _perl_string(text: str, key: str) -> str | None:
    """The code of ``key => '...'`` (or q{...}, q[...] or "...") in ``text``, None if not a
    string."""
    m = re.search(rf"\b{key} => ", text)
    if m is None:
        return None
    ref = re.match(r"\\&(\w+(?:::\w+)*)", text[m.end():])
    if ref:  # a code reference
        return "\\&" + ref.group(1)
    s = PERL_STRING.match(text, m.end())
    if s is None:
        return None
    if s.group(0)[0] in "qs":  # q{...}, q[...], q(...), sub {...}: balanced brackets
        opening = s.group(0)[-1]
        depth, i = 1, s.end()
        while i < len(text) and depth:
            depth += {opening: 1, CLOSE[opening]: -1}.get(text[i], 0)
            i += 1
        body = re.sub(r"(?m)(^|\s)#[^\n]*$", "", text[s.end(): i - 1])  # comments
        if s.group(0) == "sub {":  # its body, run as the conversion's code
            args = SUB_ARGS.match(body)
            if args is None:
                return None
            body = ("$_ = $val; " if args.group(1) == "$_" else "") + body[args.end():]
        return " ".join(body.split())
    if s.group(1) is not None:
        return s.group(1).replace("\\'", "'").replace("\\\\", "\\")
    return s.group(2)


def _conv(part: str, key: str):
    """A conversion: its code, or for a list (``PrintConv => [\\%map, 'code', undef]``) a
    tuple with one item per value: code, "%" (the next map of the tag) or None."""
    if re.search(rf"\b{key} => \[", part) is None:
        return _perl_string(part, key)
    part = re.sub(r"(?m)(^|,)[ \t]*#[^\n]*$", r"\1", part)  # (comments after the items)
    m = re.search(rf"\b{key} => \[", part)
    if m is None:
        return None
    items, depth, start = [], 0, m.end()
    for i in range(m.end(), len(part)):
        c = part[i]
        if c in "[{(":
            depth += 1
        elif c in "]})" and depth:
            depth -= 1
        elif c in ",]" and depth == 0:
            items.append(part[start:i].strip())
            start = i + 1
        if c == "]" and depth == 0:
            break
    else:
        return None
    out = []
    for item in (x for x in items if x):
        if item.startswith(("\\%", "{")):
            out.append("%")
        elif item == "undef":
            out.append(None)
        elif item in ("'REPEAT'", '"REPEAT"'):
            out.append("REPEAT")
        else:
            code = _perl_string(f"X => {item}", "X")
            if code is None:
                return None
            out.append(code)
    return tuple(out) if any(x not in (None, "%", "REPEAT") for x in out) else None


def _count_format(part: str) -> str | None:
    """A Format whose count is computed from earlier values ('int16s[$val{2}]'), or a plain
    Format that differs from how the value is written ('int16s' for an undef IFD entry)."""
    m = re.search(r"\bFormat => '(\w+(?:\[[^']*\])?)'", part)
    return m and m.group(1)


def _with_validate(cond: str | None, part: str) -> str | None:
    """The Condition and Canon's Validate of a sub-directory (its first int16u is its size):
    ``Validate($dirData,$subdirStart+N,SIZES)`` on the value (``$$valPt``, its ``$size``)."""
    m = re.search(r"Validate => 'Image::ExifTool::Canon::Validate\(\$dirData,"
                  r"\$subdirStart(?:\+(\d+))?,([^']*)\)'", part)
    if m is None:
        return cond
    check = f"Image::ExifTool::Canon::Validate($$valPt,{m.group(1) or 0},{m.group(2)})"
    return check if cond is None else f"({cond}) and {check}"


def _mask(part: str) -> int | None:
    m = re.search(r"\bMask => (0x[0-9a-fA-F]+|\d+)", part)
    return int(m.group(1), 0) if m else None


def _other_code(part: str, shared: dict[str, str]) -> str | None:
    """The expression an OTHER sub of a PrintConv hash prints a value it does not list with
    ('sub { my ($val, $inv) = @_; return EXPR unless $inv; ...}'), or None."""
    ref = re.search(r"\bPrintConv => \\%(\w+)", part)
    text = shared.get(ref.group(1), "") if ref else part
    m = re.search(r"OTHER => sub \{\s*my \(\$val, ?\$inv\) = @_;\s*return ([^;]*?) unless "
                  r"\$inv;", text)
    return m and m.group(1)


def _other(part: str, shared: dict[str, str]) -> str:
    """How a PrintConv hash prints a value it does not list (its OTHER entry): "p" as
    Exif::PrintParameter ("+1"), "x" as the value itself, "" as "Unknown (value)"."""
    if "printParameter" in part:
        return "p"
    ref = re.search(r"\bPrintConv => \\%(\w+)", part)
    text = shared.get(ref.group(1), "") if ref else part
    return "x" if re.search(r"OTHER => sub \{ *(return )?shift;? *\}", text) else ""


def tag_code(chunk: str, shared: dict[str, str]) -> list[tuple]:
    """(name, code, table, where) of each variant of a tag's entry: ``code`` = (Condition,
    RawConv, ValueConv, PrintConv, flags, count format): flags "h" hidden (Unknown/Hidden),
    "b" Binary, "l" a list of PrintConv maps (one per value; "r": the last one repeats),
    "m" a BITMASK, "s" a
    SubDirectory (of ``table``, "inline" or at the "offset" the value gives)."""
    starts = [0]
    if chunk.lstrip().startswith("["):  # a list of variants, each "{ ... }" on its own lines
        starts = [m.end() - 1 for m in re.finditer(r"(?:^ {8}|\},\s*)\{", chunk, re.M)]
        first = chunk.find("{")
        starts = sorted({first, *starts}) if first >= 0 else [0]
    out = []
    for i, at in enumerate(starts):
        part = chunk[at : starts[i + 1] if i + 1 < len(starts) else len(chunk)]
        part = re.sub(r"^[ \t]*#.*\n", "", part, flags=re.M)  # (commented-out code)
        name = re.search(r"\bName => ['\"]([\w-]+)['\"]", part)
        flags = "".join(f for f, pat in (("h", r"\b(Unknown|Hidden) => 1|"
                                                r"Flags => [^\n]*'(Unknown|Hidden)'"),
                                         ("b", r"\bBinary => 1|Flags => .*'Binary'"),
                                         ("l", r"\bPrintConv => \["),
                                         ("r", r"'REPEAT'"),
                                         ("n", r"\bPrintConv => undef"),
                                         ("m", r"\bBITMASK => "),
                                         ("s", r"\bSubDirectory => "),
                                         ("e", r"\bDecrypt"),
                                         ("o", r"\bIsOffset\b")) if re.search(pat, part))
        flags += _other(part, shared)
        table = re.search(r"TagTable => '(?:Image::ExifTool::)?(\w+::\w+)'", part)
        where = "offset" if re.search(r"Start => '\$val'", part) else "inline"
        if where == "offset" and re.search(r"Flags => .*'SubIFD'", part):
            where = "offsets"  # a list of IFD offsets (ExifTool's SubIFD flag)
        skip = re.search(r"Start => '\$valuePtr \+ (\d+)'", part)
        where += f"+{skip.group(1)}" if skip else ""
        order = re.search(r"ByteOrder => '(Big|Little)", part)
        where += {"Big": ">", "Little": "<"}[order.group(1)] if order else ""
        cond = _perl_string(part, "Condition")
        if "s" in flags:  # a sub-directory read only if its Validate holds
            cond = _with_validate(cond, part)
        out.append((name and name.group(1), (cond,
                    _perl_string(part, "RawConv"), _conv(part, "ValueConv"),
                    _conv(part, "PrintConv"), flags, _count_format(part), _mask(part),
                    _other_code(part, shared)),
                    table and table.group(1), where))
    return out


def wanted(tab) -> bool:
    """A MakerNotes table, or one of the FLIR FFF record tables (APP1, engine.makernotes.flir:
    the same binary-table reading, ExifTool's family-1 group FLIR)."""
    name = tab.get("name", "")
    return tab.get("g0") == "MakerNotes" or (tab.get("g0") == "APP1" and name in FLIR_TABLES)


def build(roots, perl_dir: Path) -> tuple[dict, list]:
    maps: dict[tuple, int] = {}
    codes: dict[tuple, int] = {}
    tables: dict[str, tuple] = {}
    perl: dict[str, dict] = {}
    for module in MODULES:
        perl.update(perl_tables(perl_dir, module))
    for tab in (t for root in roots for t in root.findall("table")):
        name = tab.get("name", "")
        if not wanted(tab) or name.split("::")[0] not in MODULES:
            continue
        if SKIP.search(name) or name not in perl:
            continue
        tags: dict[int, list] = {}
        variants: dict[int, int] = {}
        for tag in tab.findall("tag"):
            tid = tag.get("id", "")
            if not re.fullmatch(r"\d+(\.\d+)?", tid) and perl[name]["kind"] != "plist":
                continue
            tid_n = int(tid) if tid.isdigit() else tid  # (bit fields "0.1": masks of value 0)
            k = variants[tid_n] = variants.get(tid_n, -1) + 1
            per_item = []  # one map per value of a list (PrintConv => [...]): <values index=>
            for values_el in tag.findall("values"):
                values = {k.get("id", ""): english(k) for k in values_el.findall("key")}
                key = tuple(sorted(values.items()))
                per_item.append(maps.setdefault(key, len(maps)) if key else None)
            idx = per_item[0] if len(per_item) == 1 else tuple(per_item) if per_item else None
            pvars = perl[name]["convs"].get(tid_n, [])
            pname, code = pvars[k][:2] if k < len(pvars) else (None, None)
            if pname != tag.get("name"):
                code = None  # the Perl variant could not be matched: no code, no condition
            cidx = codes.setdefault(code, len(codes)) if code and any(code) else None
            tags.setdefault(tid_n, []).append(
                (tag.get("name"), tag.get("type"), int(tag.get("count") or 0), idx, cidx))
        tags = {t: tuple(v) for t, v in tags.items()}
        p = perl[name]
        tables[name] = (tab.get("g1"), p["kind"], p["format"], p["first"], tags, p["subdirs"],
                        p["print"])
    for name, p in perl.items():  # (an IFD of sub-directories only: -listx leaves it out)
        if name not in tables and p["kind"] == "ifd" and p["subdirs"] and not SKIP.search(name):
            tables[name] = (name.split("::")[0], "ifd", None, 0, {}, p["subdirs"], None)
    return tables, [dict(k) for k in maps], list(codes)


HEADER = '''"""Maker-note tag tables, generated by scripts/gen_makernote_tags.py from ExifTool 12.57
``exiftool -listx`` and its modules.  Do not edit by hand.

``TABLES``: ExifTool table name -> ``(group, kind, format, first_entry, tags, subdirs,
print)``:

- ``group``: the family-1 group;
- ``kind``: "ifd", "binary" (ProcessBinaryData: tag id x format size = position), "serial"
  (ProcessSerialData: one value after the other), "custom1"/"custom2" (Canon custom
  functions, CanonCustom.pm), "plist" (a binary PLIST dictionary, ids are its keys) or
  "cipher" (Sony's enciphered binary data: a byte substitution, then as "binary") or
  "capture" (Nikon Capture records: id, size, value) or "offsets" (Nikon Capture offsets:
  a count, then 12-byte records of id and int32u value) or "phaseone" (Phase One
  directories, engine.makernotes.phaseone); "fff" (FLIR records), "ciff" (Canon CIFF heaps),
  "ctmd"/"exifinfo" (Canon timed metadata) are read by their own modules; "skip" not at all;
- ``format``: a binary table's default format (None: int8u);
- ``tags``: id (a text "N.M" for a bit field of binary value N) -> variants (the first
  whose condition holds is used), each
  ``(name, type, count, map, code)``: ``map`` an index into ``MAPS`` (raw value text ->
  English) or None, or a tuple of them (one per value of a list), ``code`` an index into
  ``CODES`` or None;
- ``subdirs``: id -> variants ``(condition, table, where)``, where "inline" (the value holds
  the directory; "inline+N": from its byte N) or "offset" (it points at it; "offsets": each
  of its values does, as ExifTool's SubIFD lists), followed by
  ">" or "<" when the directory has its own byte order;
- ``print``: the table's PRINT_CONV for values without their own (a code reference).

``CODES``: (Condition, RawConv, ValueConv, PrintConv, flags, format, mask, other): the Perl
code of a variant (engine.makernotes.perl runs it; a tuple for a list of conversions, one
per value: code, "%" the tag's next map, None, "REPEAT"); flags: h hidden, b binary, l one
PrintConv map per value (r: the last one for the values after it), n no PrintConv (not even
the table's), m bit mask, o an offset (shown as a position in the file), x/p a value the map
lacks shown as is / as a signed parameter (else "Unknown (value)"); format: the tag's Format,
how its value is read ("int16s", "string[32]", a count computed from earlier values
"int16s[$val{2}]"; None: a binary table's FORMAT, an IFD entry's type); mask: the bits of
the value the tag is (shifted down), or None; other: the expression a PrintConv hash's OTHER
sub prints a value the map lacks with, or None.
"""

# ruff: noqa: E501

'''


def reachable(tables: dict[str, tuple]) -> dict[str, tuple]:
    """Only the tables a maker-note rule (engine.makernotes.headers) leads to."""
    sys.path.insert(0, str(ROOT))
    from engine.makernotes.headers import RULES

    todo = [r.table for r in RULES] + ["FLIR::FFF", "FLIR::Header",
                                           "CanonRaw::Main", "Canon::CTMD", *MRW_TABLES,
                                           "Sony::SR2Private", "Sony::SR2SubIFD"]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in tables:
            continue
        seen.add(name)
        todo.extend(v[1] for subs in tables[name][5].values() for v in subs)
    return {n: t for n, t in tables.items() if n in seen}


def renumber(tables: dict, maps: list, codes: list) -> tuple[dict, list, list]:
    """Keep only the maps and codes the kept tables use."""
    new_maps: dict[int, int] = {}
    new_codes: dict[int, int] = {}

    def one(m: int | None) -> int | None:
        return None if m is None else new_maps.setdefault(m, len(new_maps))

    def tag(v: tuple) -> tuple:
        m = tuple(one(x) for x in v[3]) if isinstance(v[3], tuple) else one(v[3])
        c = None if v[4] is None else new_codes.setdefault(v[4], len(new_codes))
        return v[:3] + (m, c)
    out = {n: t[:4] + ({i: tuple(tag(v) for v in vs) for i, vs in t[4].items()},) + t[5:]
           for n, t in tables.items()}
    return out, [maps[i] for i in new_maps], [codes[i] for i in new_codes]


def main() -> None:
    args = arguments()
    roots = (listx_root(args.listx, "-MakerNotes:All", huge=True),
             listx_root(None, "-FLIR:All", huge=True))
    tables, maps, codes = build(roots, Path(args.perl_dir))
    # sub-directory links to tables left out are dropped
    tables = reachable(tables)
    for t in tables.values():
        for tid, subs in list(t[5].items()):
            t[5][tid] = tuple(v for v in subs if v[1] in tables or v[1] == "")
            if not t[5][tid]:
                del t[5][tid]
    tables, maps, codes = renumber(tables, maps, codes)
    text = (HEADER + "MAPS = " + pprint.pformat(maps, width=100, compact=True) + "\n\n"
            + "CODES = " + pprint.pformat(codes, width=100, compact=True) + "\n\n"
            + "TABLES = " + pprint.pformat(tables, width=100, compact=True) + "\n")
    OUT.write_text(text)
    print(f"{OUT}: {len(tables)} tables, {len(maps)} maps, {len(text.splitlines())} lines")


if __name__ == "__main__":
    main()
