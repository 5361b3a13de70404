"""Decode a maker note's IFDs and binary-data sub-tables into tags (read only, tolerant).

The maker note is read inside the whole EXIF block (``tiff``) because value offsets point
outside it (relative to the TIFF header for most makers).  ``Walker`` follows the IFD of the
maker note and the sub-directories the generated tables name (engine.makernotes.tables):
IFDs inline or at an offset, and ProcessBinaryData tables (values at ``id * size of the table
format``).  Bad offsets, loops, counts past the end are skipped with a warning; the number of
directories and entries read is bounded.
"""

from __future__ import annotations

import struct

from engine.exif.printing import FORMATS as EXIF_FORMATS
from engine.exif.printing import TYPE_FORMAT, bitmask, enum, read_value
from engine.exif.types import TYPE_SIZES
from engine.makernotes.convert import DROP, run
from engine.makernotes.perl import CODE_ERRORS, _n, _s, compile_code, truth
from engine.makernotes.tables import CODES, MAPS, TABLES
from engine.model import TagValue, binary_text
from engine.printconv import perl_num

# ExifTool's formats: EXIF's, and rational32 (two 16-bit integers) of binary tables
FORMATS = {**EXIF_FORMATS, "rational32u": ("H", 2), "rational32s": ("h", 2)}
MAX_DIRS = 64  # sub-directories read from one maker note
MAX_SUBIFDS = 20  # IFDs of one SubIFD list read (ExifTool's MaxSubdirs)
MAX_ENTRIES = 1024
MAX_BINARY = 1 << 20  # a binary sub-table larger than this is not decoded


def _is_text(raw: bytes) -> bool:
    body = raw.rstrip(b"\0 ")
    return all(c in (9, 10, 13) or 0x20 <= c <= 0x7E for c in body)


class Walker:
    def __init__(self, tiff, path: str, part: str = "makernotes") -> None:
        self.tiff = tiff
        self.part = part  # the tags' paths are "<part>/<Name>"
        self.group: str | None = None  # every tag's family-1 group, if not its table's
        self.suffix = ""  # added to the group of the tags of the 2nd, 3rd... IFD of a list
        self.size = len(tiff)
        self.path = path
        self.visited: set[tuple[int, str]] = set()
        self.tags: list[TagValue] = []
        self.warnings: list[str] = []
        self.state: dict[str, object] = {}  # ExifTool's $$self{...} the conversions set
        self.pending: list[tuple] = []  # tags read, their ValueConv/PrintConv still to run
        self.file_offset = 0  # where ``tiff`` starts in the file (offsets are shown from there)
        self.file_size = 0  # of the whole file (a preview image must fit in it)

    def warn(self, msg: str) -> None:
        self.warnings.append(f"{self.path}: MakerNotes: {msg}")

    def enter(self, table: str, pos: int) -> bool:
        if len(self.visited) >= MAX_DIRS:
            self.warn(f"too many directories, {table} at offset {pos} ignored")
            return False
        if (pos, table) in self.visited:
            self.warn(f"{table} at offset {pos} was already read (loop), ignored")
            return False
        self.visited.add((pos, table))
        return True

    def ifd(self, table: str, pos: int, base: int, bo: str, end: int | None = None) -> None:
        """Read the IFD at ``pos`` (in ``tiff``); value offsets are relative to ``base``."""
        if table not in TABLES or TABLES[table][1] != "ifd" or not self.enter(table, pos):
            return
        if pos < 0 or pos + 2 > self.size:
            self.warn(f"{table} offset {pos} is outside the EXIF data ({self.size} bytes)")
            return
        n = struct.unpack_from(bo + "H", self.tiff, pos)[0]
        fit = (self.size - pos - 2) // 12
        if n > min(fit, MAX_ENTRIES):
            self.warn(f"{table} at offset {pos} claims {n} entries, only {min(fit, MAX_ENTRIES)}"
                      " read")
            n = min(fit, MAX_ENTRIES)
        for i in range(n):
            self.entry(table, pos + 2 + 12 * i, base, bo)

    def entry(self, table: str, at: int, base: int, bo: str) -> None:
        tag, typ, count = struct.unpack_from(bo + "HHI", self.tiff, at)
        unit = TYPE_SIZES.get(typ)
        tags, subdirs = TABLES[table][4], TABLES[table][5]
        if tag not in tags and tag not in subdirs:
            return
        if unit is None:
            self.warn(f"{table} tag 0x{tag:04x} at offset {at} has unknown type {typ}")
            return
        size = count * unit
        vpos = at + 8
        if size > 4:
            vpos = base + struct.unpack_from(bo + "I", self.tiff, at + 8)[0]
        if vpos < 0 or vpos + size > self.size:
            self.warn(f"{table} tag 0x{tag:04x}: value at offset {vpos} ({size} bytes) is "
                      "outside the EXIF data")
            return
        raw = bytes(self.tiff[vpos : vpos + min(size, MAX_BINARY)])
        fmt = TYPE_FORMAT.get(typ, "undef")
        self.state.update({"$count": float(count), "$format": fmt, "$$valPt": raw,
                           "$byte_order": bo, "$size": float(size)})
        for cond, sub, where in subdirs.get(tag, ()):
            if self.holds(cond):
                self.subdir(sub, where, raw, vpos, base, bo)
                return
        variant = self.choose(tags.get(tag, ()))
        if variant is None:
            return
        name, ttype, _count, vmap, code = variant
        if code is not None and "o" in CODES[code][4]:  # shown as a position in the file
            self.state["$offset_base"] = base + self.file_offset
        if ttype == "string" and fmt in ("undef", "int8u"):
            fmt = "string"
        read_as = code is not None and CODES[code][5]
        if read_as and read_as in FORMATS and len(raw) % FORMATS[read_as][1] == 0:
            fmt = read_as  # the table's Format: how ExifTool reads this value
        if fmt == "undef" and count == 1:
            fmt = "int8u"
        self.add(table, name, fmt, raw, bo, vmap, code)

    def holds(self, cond: str | None) -> bool:
        """Whether an ExifTool Condition holds (one this reader cannot run does not)."""
        if cond is None:
            return True
        fn = compile_code(cond)
        try:
            return fn is not None and truth(fn(None, self.state))  # type: ignore[operator]
        except CODE_ERRORS:
            return False

    def choose(self, variants: tuple) -> tuple | None:
        for v in variants:
            code = None if v[4] is None else CODES[v[4]]
            if code is None or self.holds(code[0]):
                return None if code is not None and "h" in code[4] else v
        return None

    def subdir(self, table: str, where: str, raw: bytes, vpos: int, base: int,
               bo: str) -> None:
        if not table:  # encrypted: ExifTool deciphers it with keys this reader does not use
            return
        kind = TABLES[table][1]
        if where[-1] in "<>":
            where, bo = where[:-1], where[-1]
        if "+" in where:  # the directory starts N bytes into the value
            where, skip = where.split("+")
            raw, vpos = raw[int(skip):], vpos + int(skip)
        if where == "offsets":  # IFDs, the 2nd one's group "<group>1"... (SET_GROUP1 tables)
            named = TABLES[table][0] == table.split("::")[-1]
            for k in range(min(len(raw) // 4, MAX_SUBIFDS)):
                self.suffix = str(k) if k and named else ""
                self.ifd(table, base + struct.unpack_from(bo + "I", raw, 4 * k)[0], base, bo)
            self.suffix = ""
        elif where == "offset":
            if len(raw) >= 4:
                self.ifd(table, base + struct.unpack_from(bo + "I", raw)[0], base, bo)
        elif kind == "ifd":
            self.ifd(table, vpos, base, bo)
        elif kind in ("binary", "serial") and self.enter(table, vpos):
            self.binary(table, raw, bo)
        elif kind == "cipher" and self.enter(table, vpos):
            self.binary(table, raw.translate(DECIPHER), bo)
        elif kind == "capture" and self.enter(table, vpos):
            self.capture(table, raw)
        elif kind == "plist" and self.enter(table, vpos):
            self.plist(table, raw)
        elif kind == "offsets" and self.enter(table, vpos):
            self.id_records(table, raw, bo)
        elif kind == "phaseone" and self.enter(table, vpos):
            from engine.makernotes.phaseone import read

            read(self, table, raw)
        elif kind in ("custom1", "custom2") and self.enter(table, vpos):
            from engine.makernotes.custom import canon_custom

            for tid, fmt, value_raw in canon_custom(kind, raw, bo, self.warn):
                self.state["$count"] = float(len(value_raw) // FORMATS[fmt][1])
                variant = self.choose(TABLES[table][4].get(tid, ()))
                if variant is not None:
                    self.add(table, variant[0], fmt, value_raw, bo, variant[3], variant[4])

    def binary(self, table: str, raw: bytes, bo: str) -> None:
        """A ProcessBinaryData table (tag ``id`` at ``id * size of the table format``) or a
        ProcessSerialData one (each value right after the one before)."""
        _group, kind, tfmt, _first, tags = TABLES[table][:5]
        unit = FORMATS.get(tfmt or "int8u", ("B", 1))[1]
        serial = kind == "serial"
        pos = 0
        for k in [k for k in list(self.state) if k.startswith("$val{")]:
            del self.state[k]
        self.state.update({"$size": float(len(raw)), "$byte_order": bo})
        ids = [t for t in {*tags, *TABLES[table][5]}
               if not isinstance(t, str) or (t[:1].isdigit() and not serial)]
        for tid in sorted(ids, key=float):
            pos = pos if serial else int(float(tid)) * unit
            if pos >= len(raw):
                continue  # (a serial table's next values are past the end too)
            self.state["$$valPt"] = raw[pos:]
            sub = self.binary_subdir(table, tid, raw, pos, bo)
            if sub:
                continue
            variant = self.choose(tags.get(tid, ()))
            if variant is None and (not serial or tid not in tags):
                continue
            name, _type, _count, vmap, code = variant or tags[tid][0]
            fmt, bo_tag, count = self.value_format(code, tfmt, bo)
            if count is None:
                continue
            if fmt == "string" and not count:  # a string of no size runs to the end
                count = len(raw) - pos
            size = FORMATS[fmt][1] * (count or 1) * (2 if fmt.startswith("rational") else 1)
            if pos + size > len(raw):
                if serial:
                    break
                continue
            if variant is not None:
                value = self.add(table, name, fmt, raw[pos : pos + size], bo_tag, vmap, code)
                self.state[f"$val{{{tid}}}"] = value
            pos += size

    def capture(self, table: str, raw: bytes) -> None:
        """Nikon Capture records (engine.makernotes.custom.nikon_capture)."""
        from engine.makernotes.custom import nikon_capture

        tags, subdirs = TABLES[table][4], TABLES[table][5]
        formats = {t: v[0][1] for t, v in tags.items() if v[0][1] in FORMATS}
        for tid, fmt, value in nikon_capture(raw, formats):
            if tid in subdirs:
                self.binary_subdir(table, tid, value, 0, "<")
                continue
            variant = self.choose(tags.get(tid, ()))
            if variant is not None and (fmt != "undef" or variant[1] in ("undef", "string")):
                fmt = "string" if variant[1] == "string" else fmt
                self.add(table, variant[0], fmt, value, "<", variant[3], variant[4])

    def plist(self, table: str, raw: bytes) -> None:
        """A binary PLIST dictionary (Apple RunTime): its keys are the tag ids."""
        import plistlib

        try:
            items = plistlib.loads(raw)
        except (plistlib.InvalidFileException, ValueError, TypeError, KeyError, IndexError,
                OverflowError, RecursionError):
            self.warn(f"{table}: bad binary PLIST")
            return
        for key, value in items.items() if isinstance(items, dict) else ():
            variant = self.choose(TABLES[table][4].get(key, ()))
            if variant is not None and isinstance(value, int | float | str):
                codes = None if variant[4] is None else CODES[variant[4]]
                text = str(value) if not isinstance(value, float) else _s(value)
                self.pending.append((TABLES[table][0], variant[0], text, variant[3], codes,
                                     0, None))

    def id_records(self, table: str, raw: bytes, bo: str) -> None:
        """A count (int16u), then 12-byte records: id (int32u), value (int32u), 4 bytes."""
        count = struct.unpack_from(bo + "H", raw)[0] if len(raw) >= 2 else 0
        for at in range(2, 2 + 12 * min(count, (len(raw) - 2) // 12), 12):
            variant = self.choose(TABLES[table][4].get(struct.unpack_from(bo + "I", raw, at)[0],
                                                       ()))
            if variant is not None:
                self.add(table, variant[0], "int32u", raw[at + 4 : at + 8], bo, variant[3],
                         variant[4])

    def binary_subdir(self, table: str, tid: int, raw: bytes, pos: int, bo: str) -> bool:
        """A sub-directory inside a binary table (the rest of the data from ``pos``)."""
        for cond, sub, where in TABLES[table][5].get(tid, ()):
            if self.holds(cond):
                self.subdir(sub, where, raw[pos:], -1 - len(self.visited), 0, bo)
                return True
        return False

    def value_format(self, code: int | None, tfmt: str | None,
                     bo: str) -> tuple[str, str, int | None]:
        """(format, byte order, count: 0 for one value, None if it cannot be read) of a
        binary-table value: its Format ('int16s', 'string[32]', 'int16s[$val{2}]': the
        count computed from the earlier values), else the table's FORMAT."""
        spec = CODES[code][5] if code is not None else None
        base, _, expr = (spec or tfmt or "int8u").partition("[")
        fmt, bo_tag = _format(base, tfmt, bo)
        if not expr:
            return fmt, bo_tag, 0
        fn = compile_code(expr[:-1])
        try:
            n = _n(fn(None, self.state)) if fn is not None else -1.0  # type: ignore[operator]
        except CODE_ERRORS:
            n = -1.0
        if fmt not in FORMATS or not 0 <= n <= MAX_BINARY:
            return fmt, bo_tag, None
        return fmt, bo_tag, int(n)

    def add(self, table: str, name: str, fmt: str, raw: bytes, bo: str, vmap: int | None,
            code: int | None):
        """Read the value and run its RawConv now (later conditions may use what it sets);
        its ValueConv and PrintConv run in ``finish``, as ExifTool runs them when printing."""
        codes = None if code is None else CODES[code]
        value = _read_value(fmt, raw, bo)
        if codes is not None and codes[6] and isinstance(value, str):
            mask = codes[6]
            shift = (mask & -mask).bit_length() - 1
            value = " ".join(str((int(x) & mask) >> shift) if x.lstrip("-").isdigit() else x
                             for x in value.split())
        if codes is not None and "o" in codes[4] and isinstance(value, str) and value.isdigit():
            value = str(int(value) + int(self.state.get("$offset_base", 0)))
        if codes is not None and codes[1] is not None:
            value = run(codes[1], value, self.state)
            if value is DROP:
                return None
        group, table_print = TABLES[table][0] + self.suffix, TABLES[table][6]
        self.pending.append((group, name, value, vmap, codes, len(raw), table_print))
        return value

    def finish(self) -> list[TagValue]:
        for group, name, value, vmap, codes, size, table_print in self.pending:
            shown = self.printed(value, vmap, codes)
            if table_print and vmap is None and (codes is None or codes[3] is None) and \
                    "n" not in codes_flags(codes):
                shown = run(table_print, shown, self.state) if isinstance(shown, str) else shown
            if shown is DROP:
                continue
            path = f"{self.part}/{name}"
            group = self.group or group
            if "b" in codes_flags(codes) or isinstance(shown, bytes) and not _is_text(shown):
                size = len(shown) if isinstance(shown, bytes) else size
                self.tags.append(TagValue(path, group, name, binary_text(size), False, size))
                continue
            if isinstance(shown, bytes):
                shown = shown.rstrip(b"\0").decode("latin-1")
            self.tags.append(TagValue(path, group, name, _s(shown), False))
        self.pending = []
        self.preview_images()
        return self.tags

    def preview_images(self) -> None:
        """PreviewImage (binary) where a group has PreviewImageStart and -Length that fit in
        the file, as ExifTool shows it beside them."""
        found: dict[str, dict[str, int]] = {}
        for t in self.tags:
            if t.name in ("PreviewImageStart", "PreviewImageLength") and t.value.isdigit():
                found.setdefault(t.group, {}).setdefault(t.name, int(t.value))
        for group, pair in found.items():
            start, size = pair.get("PreviewImageStart"), pair.get("PreviewImageLength")
            have = {(t.group, t.name) for t in self.tags}
            if start and size and start + size <= self.file_size and \
                    (group, "PreviewImage") not in have:
                self.tags.append(TagValue(f"{self.part}/PreviewImage", group, "PreviewImage",
                                          binary_text(size), False, size))

    def printed(self, value, vmap: int | tuple | None, codes: tuple | None):
        if codes is not None:
            value = run_each(codes[2], value, self.state, " ")
            if value is DROP:
                return DROP
            if isinstance(codes[3], tuple):
                return self.print_each(codes[3], value, vmap)
            if codes[3] is not None and compile_code(codes[3]) is not None:
                return run(codes[3], value, self.state)
        if vmap is None or isinstance(value, bytes):
            return value
        if isinstance(vmap, tuple):  # a map per value (an ARRAY PrintConv)
            items = _s(value).split()
            return "; ".join(str(enum(p, "", MAPS[m])) if m is not None else p
                             for p, m in zip(items, vmap, strict=False)) + "".join(
                "; " + p for p in items[len(vmap):])
        if codes is not None and "m" in codes[4]:  # (a value the hash names, else its bits)
            return MAPS[vmap].get(_s(value)) or bitmask(_s(value), "", MAPS[vmap])
        if codes is not None and "l" in codes[4]:  # (the rest as read, unless it repeats)
            items = _s(value).split()
            n = len(items) if "r" in codes[4] else 1
            return "; ".join([str(enum(p, "", MAPS[vmap])) for p in items[:n]] + items[n:])
        text = _s(value)
        flags = codes_flags(codes)
        if text not in MAPS[vmap] and ("x" in flags or "p" in flags):
            return _parameter(text) if "p" in flags else text
        if text not in MAPS[vmap] and codes is not None and codes[7] is not None:
            return run(codes[7], text, self.state)  # the map's OTHER sub
        return enum(text, "", MAPS[vmap])


    def print_each(self, convs: tuple, value, vmap) -> str:
        """A PrintConv list: value i printed by conversion i (code, "%": the tag's next map,
        None: as read; "REPEAT": the one before for the rest), joined by "; "."""
        maps = list(vmap) if isinstance(vmap, tuple) else [vmap]
        out, conv, k = [], None, 0
        for i, item in enumerate(_s(value).split()):
            if i < len(convs) and convs[i] != "REPEAT":
                conv = convs[i]
                if conv == "%":
                    conv, k = ("%", maps[k] if k < len(maps) else None), k + 1
            elif i >= len(convs) and "REPEAT" not in convs:
                conv = None
            if isinstance(conv, tuple):
                out.append(str(enum(item, "", MAPS[conv[1]])) if conv[1] is not None else item)
            else:
                shown = run(conv, item, self.state)
                out.append(item if shown is DROP else _s(shown))
        return "; ".join(out)


def run_each(conv, value, state: dict, sep: str):
    """A ValueConv (a list of them: one per value, None as read), DROP for undef."""
    if not isinstance(conv, tuple):
        return run(conv, value, state)
    items = _s(value).split()
    out = []
    for c, x in zip(list(conv[:len(items)]) + [None] * (len(items) - len(conv)), items,
                    strict=True):
        y = run(c, x, state) if c not in (None, "%", "REPEAT") else x
        out.append(x if y is DROP else _s(y))
    return sep.join(out)


def _decipher_table() -> bytes:
    # Sony's substitution cipher (Sony.pm Decipher): byte b < 249 is stored as b**3 % 249
    table = bytearray(range(256))
    for b in range(249):
        table[b ** 3 % 249] = b
    return bytes(table)


DECIPHER = _decipher_table()


def _format(ttype: str, table_format: str | None, bo: str) -> tuple[str, str]:
    """(format, byte order) of a binary-table value: "int16uRev" is int16u read in the other
    byte order; a type that is no binary format takes the table's."""
    if ttype.endswith("Rev") and ttype[:-3] in FORMATS:
        return ttype[:-3], "<" if bo == ">" else ">"
    return (ttype if ttype in FORMATS else (table_format or "int8u")), bo


def _read_value(fmt: str, raw: bytes, bo: str):
    if not fmt.startswith("rational32"):
        return read_value(fmt, raw, bo)
    n = len(raw) // 4
    nums = struct.unpack_from(f"{bo}{2 * n}{FORMATS[fmt][0]}", raw)
    return " ".join(perl_num(a / b) if b else ("inf" if a else "undef")
                    for a, b in zip(nums[::2], nums[1::2], strict=True))


def _parameter(text: str) -> str:
    """Exif::PrintParameter: a positive value with its sign, 0xfff1.. as negative."""
    x = _n(text)
    if x > 0xFFF0:
        return _s(x - 0x10000)
    return f"+{text}" if x > 0 else text


def codes_flags(codes: tuple | None) -> str:
    return "" if codes is None else codes[4]
