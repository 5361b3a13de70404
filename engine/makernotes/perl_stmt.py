"""Statements for the Perl evaluator (engine.makernotes.perl): the few-line conversions of
ExifTool's tables ('my @v = split " ", $val; return "n/a" unless $v[1]; sprintf(...)').

On top of perl._Parser's expressions: statements separated by ";", ``my`` scalars, arrays
and lists (``my ($a,$b) = split ' ', $val``), ``$v[N]`` / ``@v[i,j]``, assignments (``=``,
``+=``, ``/=``...) to locals, ``$val``, ``$_`` and ``$$self{...}``, ``return``, statement
modifiers (``... if COND``, ``unless``, ``foreach @a``), ``if (...) {...} elsif ... else``
blocks, ``s///``/``tr///`` on a variable, regex captures ``$1``.., list operators without
parentheses (``split``, ``join``, ``sprintf``, ``reverse``).  Anything else raises
Unsupported, and the conversion is left out as before.  Locals live in an ``Env`` for one
run; ``$$self{...}`` reads and writes go to the reader's state.
"""

from __future__ import annotations

import re
import struct

from engine.makernotes.perl import FUNCTIONS, Unsupported, _n, _Parser, _s, truth

ASSIGN = {"=", "+=", "-=", "*=", "/=", ".=", "&=", "|="}
LIST_OPS = {"split", "join", "sprintf", "reverse", "unpack", "pack", "map"}
NAMED_UNARY = {"length", "defined", "int", "abs", "hex", "uc", "lc"}  # (without parentheses)


class Return(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, value) -> None:
        self.value = value


class Env(dict):
    """One run's local variables (keys "$x", "@x", "$_", "$1"...) over the reader's state."""

    def __init__(self, outer: dict) -> None:
        super().__init__()
        self.outer = outer

    def get(self, key, default=None):
        return dict.get(self, key, default) if key in self else self.outer.get(key, default)

    def __getitem__(self, key):
        return dict.__getitem__(self, key) if key in self else self.outer.get(key)

    def __setitem__(self, key, value) -> None:
        if key[:1] in "$@":
            dict.__setitem__(self, key, value)
        else:
            self.outer[key] = value


class StmtParser(_Parser):
    def program(self):
        stmts = []
        ended = True  # (a statement ends with ";" or a block)
        while self.peek()[0] != "end" and self.peek() != ("op", "}"):
            if self.peek() == ("op", ";"):
                self.take()
                ended = True
                continue
            if not ended:
                break
            ended = self.peek() in (("name", "if"), ("name", "unless"))
            stmts.append(self.statement())
        if not stmts:
            raise Unsupported("no statement")
        return _sequence(stmts)

    def block(self):
        self.take("{")
        body = self.program() if self.peek() != ("op", "}") else (lambda v, st: None)
        self.take("}")
        return body

    def statement(self):
        kind, text = self.peek()
        if kind == "name" and text in ("if", "unless"):
            return self.if_block()
        if kind == "name" and text == "my":
            self.take()
            stmt = self.declaration()
        else:
            stmt = self.expr()
        return self.modifiers(stmt)

    def if_block(self):
        negate = self.take()[1] == "unless"
        self.take("(")
        cond = self.expr()
        self.take(")")
        body = self.block()
        other = None
        if self.peek() == ("name", "elsif"):
            self.toks[self.i] = ("name", "if")
            other = self.if_block()
        elif self.peek() == ("name", "else"):
            self.take()
            other = self.block()

        def run(v, st):
            if truth(cond(v, st)) != negate:
                return body(v, st)
            return other(v, st) if other is not None else None
        return run

    def modifiers(self, stmt):
        kind, text = self.peek()
        if kind != "name" or text not in ("if", "unless", "foreach", "for"):
            return stmt
        self.take()
        array = self.peek()[1] if self.peek()[0] == "lvar" else ""
        cond = self.expr()
        if text in ("foreach", "for"):  # ($_ is each element of an array, written back)
            return _foreach(stmt, cond, array if array.startswith("@") else None)
        negate = text == "unless"
        return lambda v, st: stmt(v, st) if truth(cond(v, st)) != negate else None

    def declaration(self):
        if self.peek() == ("op", "("):  # my ($a, $b) = LIST
            self.take()
            names = []
            while self.peek() != ("op", ")"):
                names.append(self.take()[1])
                if self.peek() == ("op", ","):
                    self.take()
            self.take(")")
            if self.peek() != ("op", "="):
                return lambda v, st: [st.__setitem__(n, None) for n in names] and None
            self.take("=")
            rhs = self.expr()
            return lambda v, st: _unpack_list(names, rhs(v, st), st)
        kind, name = self.take()
        if (kind, name) == ("op", "%"):  # my %h = (KEY => VALUE, ...)
            name = "%" + self.take()[1]
            self.take("=")
            rhs = self.expr()
            return lambda v, st: st.__setitem__(name, _as_hash(rhs(v, st)))
        if kind != "lvar":
            raise Unsupported(f"my {name}")
        if self.peek() != ("op", "="):
            return lambda v, st: st.__setitem__(name, [] if name[0] == "@" else None)
        self.take("=")
        rhs = self.expr()
        if name[0] == "@":
            return lambda v, st: st.__setitem__(name, _as_list(rhs(v, st)))
        return lambda v, st: st.__setitem__(name, _scalar(rhs(v, st)))

    def expr(self):
        """Perl's lowest precedence: ``and``/``or`` over assignments (``A and $x = B``)."""
        left = self.assignment()
        while self.peek() in (("name", "and"), ("name", "or")):
            op = self.take()[1]
            right = self.assignment()
            left = _logic(op, left, right)
        return left

    def assignment(self):
        start = self.i
        kind, text = self.peek()
        if kind in ("val", "lvar") and self.toks[start + 1:start + 2] and \
                self.toks[start + 1][0] == "subst":
            self.i += 2
            return _substitute(self.toks[start], self.toks[start + 1][1])
        left = self.binary(2)  # (every operator that binds tighter than "and")
        kind, text = self.peek()
        if kind == "op" and text in ASSIGN and self.i == start + 1 + self.elem_len.get(start, 0):
            self.take()
            return _assign(self.toks[start], text, self.elem.get(start), self.assignment())
        if (kind, text) == ("op", "?"):
            self.take()
            a = self.assignment()
            self.take(":")
            b = self.assignment()
            return lambda v, st: a(v, st) if truth(left(v, st)) else b(v, st)
        return left

    def hash_literal(self):
        """``{ KEY => VALUE, ... }`` (a lookup table passed to DecodeBits), optionally
        followed by ``->{KEY}``."""
        self.take("{")
        pairs = []
        while self.peek() != ("op", "}"):
            kind, key = self.take()
            key = key[1:-1] if kind in ("sq", "dq") else key
            self.take("=>")
            pairs.append((str(int(key, 0)) if kind == "num" else key, self.assignment()))
            if self.peek() == ("op", ","):
                self.take()
        self.take("}")
        table = lambda v, st: {k: f(v, st) for k, f in pairs}  # noqa: E731
        if self.toks[self.i:self.i + 3] == [("op", "-"), ("op", ">"), ("op", "{")]:
            self.i += 3
            key = self.expr()
            self.take("}")
            return lambda v, st: table(v, st).get(_s(key(v, st)))
        return table

    def primary(self):
        if not hasattr(self, "elem"):
            self.elem: dict[int, object] = {}  # $v[N] at token i: its index expression
            self.elem_len: dict[int, int] = {}  # and its tokens after the variable
        kind, text = self.peek()
        following = self.toks[self.i + 1:self.i + 2]
        if (kind, text) == ("name", "return"):
            return self.return_value()
        if (kind, text) == ("name", "map") and following == [("op", "{")]:
            return self.map_block()
        if kind == "name" and text in NAMED_UNARY and following != [("op", "(")]:
            self.take()  # (length $val == 4: one argument, binding tighter than ==)
            arg, fn = self.unary(), FUNCTIONS[text]
            return lambda v, st: fn(arg(v, st))  # type: ignore[operator]
        if kind == "name" and text in LIST_OPS and following != [("op", "(")] and \
                text in FUNCTIONS:
            return self.list_operator()
        if kind == "val":
            self.take()
            return lambda v, st: st["$val"] if "$val" in st else v
        if kind == "bsubst":  # s/a/b/ on $_
            self.take()
            return _substitute(("lvar", "$_"), "=~" + text)
        if (kind, text) == ("op", "{"):
            return self.hash_literal()
        if (kind, text) == ("op", "("):
            return self.paren_list()
        if (kind, text) == ("name", "Image::ExifTool::Canon::Validate"):
            return self.canon_validate()
        if (kind, text) == ("name", "$self->Decode") and following == [("op", "(")]:
            return self.decode_text()
        if (kind, text) == ("name", "GetByteOrder"):  # the byte order the value was read in
            self.take()
            if self.peek() == ("op", "("):
                self.take()
                self.take(")")
            return lambda v, st: "II" if st.get("$byte_order") == "<" else "MM"
        if kind != "lvar":
            return super().primary()
        return self.variable()

    def canon_validate(self):
        """Canon's Validate(data, offset, sizes...): the int16u at offset (in the byte order
        the value was read in) is one of the sizes."""
        self.take()
        self.take("(")
        args = [self.assignment()]
        while self.peek() == ("op", ","):
            self.take()
            args.append(self.assignment())
        self.take(")")

        def run(v, st):
            data, at = args[0](v, st), int(_n(args[1](v, st)))
            if not isinstance(data, bytes) or not 0 <= at <= len(data) - 2:
                return False
            word = struct.unpack_from(("<" if st.get("$byte_order") == "<" else ">") + "H",
                                      data, at)[0]
            return any(word == _n(f(v, st)) for f in args[2:])
        return run

    def decode_text(self):
        """``$self->Decode($val, "UCS2")``: UTF-16 text in the value's byte order."""
        self.take()
        self.take("(")
        value = self.assignment()
        self.take(",")
        kind, charset = self.take()
        self.take(")")
        if kind not in ("sq", "dq") or charset[1:-1] != "UCS2":
            raise Unsupported(f"Decode {charset}")

        def run(v, st):
            data = value(v, st)
            data = data if isinstance(data, bytes) else _s(data).encode("latin-1")
            order = "utf-16-le" if st.get("$byte_order") == "<" else "utf-16-be"
            return data[: len(data) // 2 * 2].decode(order, "replace")
        return run

    def return_value(self):
        self.take()
        if self.peek()[0] == "end" or self.peek()[1] in (";", "}", "if", "unless"):
            return lambda v, st: _raise(None)
        value = self.expr()
        return lambda v, st: _raise(value(v, st))

    def map_block(self):
        """``map { EXPR } LIST``: EXPR with $_ = each item."""
        self.take()
        self.take("{")
        each = self.expr()
        self.take("}")
        items = self.binary(0)
        return lambda v, st: tuple(_map(each, items(v, st), v, st))

    def list_operator(self):
        """``split ' ', $val`` (a list operator without parentheses)."""
        fn = FUNCTIONS[self.take()[1]]
        args = [self.binary(0)]
        while self.peek() == ("op", ","):
            self.take()
            args.append(self.binary(0))
        return lambda v, st: fn(*[a(v, st) for a in args])  # type: ignore[operator]

    def paren_list(self):
        """A list ``(a, b, ...)`` or one expression in parentheses."""
        self.take()
        items = []
        while self.peek() != ("op", ")"):
            items.append(self.expr())
            if self.peek()[1] not in (",", "=>"):
                break
            self.take()
        self.take(")")
        if len(items) == 1:
            return items[0]
        return lambda v, st: tuple(_flat_list(f(v, st) for f in items))

    def variable(self):
        """``$x``, ``@x``, ``$h{KEY}`` (of %h), ``$v[N]`` (of @v), ``@v[i,j]``."""
        at = self.i
        text = self.take()[1]
        if text.startswith("\\%"):  # a reference to a hash: the hash
            return lambda v, st: st.get(text[1:])
        if self.peek() == ("op", "{") and text[0] == "$":  # $h{KEY}, $$ref{KEY}
            self.take()
            key = self.expr()
            self.take("}")
            table = "$" + text[2:] if text.startswith("$$") else "%" + text[1:]
            return lambda v, st: (st.get(table) or {}).get(_s(key(v, st)))
        if self.peek() == ("op", "["):
            self.take()
            indexes = [self.expr()]
            while self.peek() == ("op", ","):  # (a slice @a[0,2,3])
                self.take()
                indexes.append(self.expr())
            self.take("]")
            index = indexes[0] if len(indexes) == 1 else \
                (lambda v, st: tuple(f(v, st) for f in indexes))
            array = "@" + text[1:]
            self.elem[at], self.elem_len[at] = index, self.i - at - 1
            if text[0] == "$":
                return lambda v, st: _item(st.get(array), index(v, st))
            return lambda v, st: tuple(_item(st.get(array), i) for i in _as_list(index(v, st)))
        return lambda v, st: st.get(text)


def _logic(op: str, left, right):
    if op == "and":
        return lambda v, st: right(v, st) if truth(left(v, st)) else left(v, st)
    return lambda v, st: left(v, st) if truth(left(v, st)) else right(v, st)


def _sequence(stmts):
    if len(stmts) == 1:
        return stmts[0]

    def run(v, st):
        out = None
        for s in stmts:
            out = s(v, st)
        return out
    return run


def _flat_list(values):
    for x in values:
        if isinstance(x, list | tuple):
            yield from x
        else:
            yield x


def _as_hash(value) -> dict:
    items = _as_list(value)
    return {_s(items[k]): items[k + 1] for k in range(0, len(items) - 1, 2)}


def _raise(value):
    raise Return(value)


def _scalar(value):
    return value[-1] if isinstance(value, tuple) and value else value


def _as_list(value) -> list:
    if isinstance(value, list | tuple):
        return list(value)
    return [] if value is None else [value]


def _item(array, index):
    items = _as_list(array)
    i = int(_n(index))
    return items[i] if -len(items) <= i < len(items) else None


def _unpack_list(names: list[str], value, st) -> None:
    items = _as_list(value)
    for k, name in enumerate(names):
        st[name] = items[k] if k < len(items) else None


def _assign(target: tuple[str, str], op: str, index, rhs):
    kind, name = target
    key = {"val": "$val", "self": name, "lvar": name}.get(kind)
    if key is None:
        raise Unsupported(f"assignment to {name}")
    calc = {"=": lambda a, b: b, "+=": lambda a, b: _n(a) + _n(b),
            "-=": lambda a, b: _n(a) - _n(b), "*=": lambda a, b: _n(a) * _n(b),
            "/=": lambda a, b: _n(a) / _n(b), ".=": lambda a, b: _s(a) + _s(b),
            "&=": lambda a, b: float(int(_n(a)) & int(_n(b))),
            "|=": lambda a, b: float(int(_n(a)) | int(_n(b)))}[op]

    def run(v, st):
        old = v if key == "$val" and "$val" not in st else st.get(key)
        if index is not None:  # $v[N] op= ...
            array = "@" + name[1:]
            items = _as_list(st.get(array))
            i = int(_n(index(v, st)))
            items.extend([None] * (i + 1 - len(items)))
            items[i] = calc(items[i], rhs(v, st))
            st[array] = items
            return items[i]
        new = calc(old, _scalar(rhs(v, st)) if key[0] != "@" else rhs(v, st))
        st[key] = _as_list(new) if key[0] == "@" else new
        return new
    return run


_SUBST = re.compile(r"([=!])~\s*(s|tr)/((?:[^/\\]|\\.)*)/((?:[^/\\]|\\.)*)/([a-z]*)", re.S)


def _substitute(target: tuple[str, str], op: str):
    """``$x =~ s/a/b/flags`` (or ``tr/a/b/``): the variable edited, the count returned."""
    kind, name = target
    key = {"val": "$val", "lvar": name}.get(kind)
    m = _SUBST.fullmatch(op)
    if key is None or m is None or set(m.group(5)) - {"g", "i", "s"}:
        raise Unsupported(op)
    pat, repl, flags = m.group(3), m.group(4), m.group(5)
    if m.group(2) == "tr":
        if "-" in pat[1:-1] or "-" in repl[1:-1] or len(pat) != len(repl) or flags:
            raise Unsupported("tr")
        table = str.maketrans(pat, repl)
    else:
        py_repl = re.sub(r"\$(\d)", r"\\g<\1>", re.sub(r"\\(?=[^\d$])", "", repl))
        rx = re.compile(pat.replace("\\0", "\\x00"),
                        (re.I if "i" in flags else 0) | (re.S if "s" in flags else 0))

    def run(v, st):
        old = _s(v if key == "$val" and "$val" not in st else st.get(key))
        if m.group(2) == "tr":
            new, n = old.translate(table), sum(c in pat for c in old)
        else:
            new, n = rx.subn(py_repl, old, count=0 if "g" in flags else 1)
        st[key] = new
        return float(n)
    return run


def _map(each, items, v, st):
    for item in _as_list(items):
        st["$_"] = item
        yield each(v, st)


def _foreach(stmt, items, array: str | None):
    def run(v, st):
        values = _as_list(items(v, st))
        for k, item in enumerate(values):
            st["$_"] = item
            stmt(v, st)
            values[k] = st.get("$_")
        if array is not None:
            st[array] = values
        return values
    return run


def compile_program(code: str):
    """A function (value, state) -> value for ``code`` (statements), or None."""
    try:
        p = StmtParser(code)
        body = p.program()
        if p.peek()[0] != "end":
            raise Unsupported(p.peek()[1])
    except (Unsupported, IndexError, KeyError):
        return None

    def run(v, st):
        env = Env(st)
        try:
            return body(v, env)
        except Return as r:
            return r.value
    return run
