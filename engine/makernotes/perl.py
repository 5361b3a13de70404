"""A tiny evaluator for the one-line Perl expressions of ExifTool's maker-note conversions.

ExifTool's tables hold RawConv/ValueConv/PrintConv as Perl code; most are one arithmetic
expression on ``$val`` ('$val / 10', '2 ** (-$val/6)', '$val ? sprintf("%+.1f",$val) : 0',
'"$val mm"').  ``compile_code`` turns such a string into a Python function of (value, state),
or returns None when the code uses anything else (statements, regexes, arrays): the caller
then leaves that conversion out.  Perl's rules are kept where they show: numbers print with
%.15g, strings in numeric context give their leading number, ``undef`` drops the tag.
Helper functions ExifTool's code calls are in ``FUNCTIONS`` (engine.makernotes.convert).
"""

from __future__ import annotations

import math
import re

from engine.printconv import perl_num, perl_number

TOKEN = re.compile(r"""\s*(?:
    (?P<num>0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<self>(?:\$\$self|\$self->)\{(?P<key>\w+)\})
  | (?P<var>\$(?:count|format|size|\$valPt)\b|\$val\{\d+\})
  | (?P<val>\$val\b)
  | (?P<re>[=!]~\s*/(?:[^/\\]|\\.)*/[a-z]*)
  | (?P<subst>[=!]~\s*(?:s|tr)/(?:[^/\\]|\\.)*/(?:[^/\\]|\\.)*/[a-z]*)
  | (?P<bsubst>(?<![\w$])(?:s|tr)/(?:[^/\\]|\\.)*/(?:[^/\\]|\\.)*/[a-z]*)
  | (?P<dq>"(?:[^"\\]|\\.)*")
  | (?P<sq>'(?:[^'\\]|\\.)*')
  | (?P<name>(?:\$self->)?[A-Za-z_]\w*(?:::\w+)*)
  | (?P<lvar>\$\$[A-Za-z_]\w*(?=\{)|[$@](?:[A-Za-z_]\w*|\d)|\\%[A-Za-z_]\w*)
  | (?P<op>\*\*|==|!=|<=|>=|=>|<<|>>|&&|\|\||[-+*/.&|]=|[-+*/%?:(),<>&|!.=^;{}\[\]])
)""", re.X)
BINARY = {  # operator -> (precedence, function)
    "or": (1, None), "and": (2, None), "||": (3, None), "&&": (4, None),
    "|": (5, lambda a, b: float(_i(a) | _i(b))),
    "^": (5, lambda a, b: float(_i(a) ^ _i(b))), "&": (6, lambda a, b: float(_i(a) & _i(b))),
    "==": (7, lambda a, b: _n(a) == _n(b)), "!=": (7, lambda a, b: _n(a) != _n(b)),
    "eq": (7, lambda a, b: _s(a) == _s(b)), "ne": (7, lambda a, b: _s(a) != _s(b)),
    "<": (8, lambda a, b: _n(a) < _n(b)), ">": (8, lambda a, b: _n(a) > _n(b)),
    "<=": (8, lambda a, b: _n(a) <= _n(b)), ">=": (8, lambda a, b: _n(a) >= _n(b)),
    "lt": (8, lambda a, b: _s(a) < _s(b)), "gt": (8, lambda a, b: _s(a) > _s(b)),
    "<<": (8.5, lambda a, b: float(_i(a) << min(_i(b), 64))),
    ">>": (8.5, lambda a, b: float(_i(a) >> min(_i(b), 64))),
    "+": (9, lambda a, b: _n(a) + _n(b)), "-": (9, lambda a, b: _n(a) - _n(b)),
    ".": (9, lambda a, b: _s(a) + _s(b)),
    "*": (10, lambda a, b: _n(a) * _n(b)), "/": (10, lambda a, b: _n(a) / _n(b)),
    "%": (10, lambda a, b: float(_i(a) % _i(b))),
}
FUNCTIONS: dict[str, object] = {}  # Perl function name -> Python function (filled by convert)


class Unsupported(ValueError):
    """The Perl code uses something this evaluator does not know."""


# what running a conversion on odd data may raise: the conversion is then left out
CODE_ERRORS = (ArithmeticError, ValueError, TypeError, LookupError, AttributeError,
               RecursionError, re.error)


def _n(v) -> float:
    if v is None:
        return 0.0
    if isinstance(v, list):  # an array in numeric context: its length
        return float(len(v))
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    return perl_number(v)


def _i(v) -> int:
    x = _n(v)
    return int(x) if math.isfinite(x) else 0


def _s(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else ""
    if isinstance(v, float):
        return perl_num(v)
    if isinstance(v, tuple | list):  # a Perl list in a string: its items joined ("@list")
        return " ".join(_s(x) for x in v)
    return v.decode("latin-1") if isinstance(v, bytes) else str(v)


def truth(v) -> bool:
    if v is None or v is False:
        return False
    if isinstance(v, float):
        return v != 0
    s = _s(v)
    return s not in ("", "0")


class _Parser:
    def __init__(self, code: str) -> None:
        self.toks: list[tuple[str, str]] = []
        pos = 0
        code = code.strip().rstrip(";")
        while pos < len(code):
            m = TOKEN.match(code, pos)
            if m is None or m.end() == pos:
                if code[pos:].strip() == "":
                    break
                raise Unsupported(code[pos:])
            kind = m.lastgroup if m.lastgroup != "key" else "self"
            self.toks.append((kind, m.group(kind) if kind != "self" else m.group("key")))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("end", "")

    def take(self, text: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if text is not None and tok[1] != text:
            raise Unsupported(f"expected {text}")
        self.i += 1
        return tok

    def expr(self):
        left = self.binary(0)
        if self.peek() == ("op", "?"):
            self.take()
            a = self.expr()
            self.take(":")
            b = self.expr()
            return lambda v, st: a(v, st) if truth(left(v, st)) else b(v, st)
        if self.peek() == ("op", "="):
            raise Unsupported("assignment")
        return left

    def binary(self, level: int):
        left = self.unary()
        while True:
            kind, text = self.peek()
            op = BINARY.get(text) if kind in ("op", "name") else None
            if op is None or op[0] <= level:
                return left
            self.take()
            right = self.binary(op[0])
            left = _combine(text, op[1], left, right)

    def unary(self):
        kind, text = self.peek()
        if kind == "name" and text == "not":
            self.take()
            inner = self.binary(2)
            return lambda v, st: not truth(inner(v, st))
        if kind == "op" and text in "-!":
            self.take()
            inner = self.unary()
            if text == "-":
                return lambda v, st: -_n(inner(v, st))
            return lambda v, st: not truth(inner(v, st))
        base = self.primary()
        if self.peek()[0] == "re":
            return _match(self.take()[1], base)
        if self.peek() == ("op", "**"):
            self.take()
            exp = self.unary()
            return lambda v, st: _pow(_n(base(v, st)), _n(exp(v, st)))
        return base

    def primary(self):
        kind, text = self.take()
        if kind == "num":
            x = float(int(text, 16)) if text.startswith("0x") else float(text)
            return lambda v, st: x
        if kind == "val":
            return lambda v, st: v
        if kind == "var":
            return lambda v, st: st.get(text)
        if kind == "self":
            if self.peek() == ("op", "="):
                self.take()
                rhs = self.expr()
                return lambda v, st: st.__setitem__(text, rhs(v, st)) or st[text]
            return lambda v, st: st.get(text)
        if kind == "dq":
            return _interpolate(text[1:-1])
        if kind == "sq":
            s = text[1:-1].replace("\\'", "'")
            return lambda v, st: s
        if kind == "op" and text == "(":
            inner = self.expr()
            self.take(")")
            return inner
        if kind == "name":
            return self.call(text)
        raise Unsupported(text)

    def call(self, name: str):
        if name == "undef":
            return lambda v, st: None
        fn = FUNCTIONS.get(name.removeprefix("$self->").split("::")[-1])
        if fn is None:
            raise Unsupported(name)
        args = []
        if self.peek() == ("op", "("):
            self.take()
            while self.peek() != ("op", ")"):
                args.append(self.expr())
                if self.peek() == ("op", ","):
                    self.take()
            self.take(")")
        return lambda v, st: fn(*[a(v, st) for a in args])  # type: ignore[operator]


def _match(op: str, base):
    """``=~ /re/flags`` (``!~`` negated); Perl's regexes of conditions are Python's too."""
    m = re.fullmatch(r"([=!])~\s*/(.*)/([a-z]*)", op, re.S)
    if m is None or set(m.group(3)) - {"i", "s"}:
        raise Unsupported(op)
    flags = (re.I if "i" in m.group(3) else 0) | (re.S if "s" in m.group(3) else 0)
    try:
        rx = re.compile(m.group(2).replace("\\0", "\\x00"), flags)
    except re.error:
        raise Unsupported(op) from None
    want = m.group(1) == "="

    def run(v, st):
        found = rx.search(_s(base(v, st)))
        if found and hasattr(st, "outer"):  # $1, $2... for the statements after it
            for k, g in enumerate(found.groups(), 1):
                st[f"${k}"] = g
        return bool(found) == want
    return run


def _pow(a: float, b: float) -> float:
    try:
        return a ** b
    except (OverflowError, ZeroDivisionError):
        return math.inf


def _combine(text: str, fn, left, right):
    if text in ("||", "or"):
        return lambda v, st: left(v, st) if truth(left(v, st)) else right(v, st)
    if text in ("&&", "and"):
        return lambda v, st: right(v, st) if truth(left(v, st)) else left(v, st)

    def run(v, st):
        try:
            return fn(left(v, st), right(v, st))
        except ZeroDivisionError:
            raise Unsupported("division by zero") from None
    return run


def _interpolate(body: str):
    parts = re.split(r"(\$val\b|\$\$self\{\w+\}|\$\w+\[\d+\]|[$@]\w+)",
                     body.replace('\\"', '"').replace("\\n", "\n"))

    def run(v, st):
        out = []
        for p in parts:
            if p == "$val":
                out.append(_s(st["$val"] if "$val" in st else v))
            elif p.startswith("$$self{"):
                out.append(_s(st.get(p[7:-1])))
            elif p[:1] in "$@" and p.endswith("]"):  # an array element "$v[1]"
                items = st.get("@" + p[1:p.index("[")]) or []
                k = int(p[p.index("[") + 1 : -1])
                out.append(_s(items[k]) if k < len(items) else "")
            elif p[:1] in "$@" and len(p) > 1:
                out.append(_s(st.get(p)))
            else:
                out.append(p)
        return "".join(out)
    return run


_CACHE: dict[str, object] = {}


STATEMENTS: dict[str, object] = {}  # Perl code that is no expression -> Python (convert)
_SUBST = re.compile(r"\s*(s|tr)/((?:[^/\\]|\\.)*)/((?:[^/\\]|\\.)*)/([a-z]*)\s*")


def _edits(code: str):
    """The Perl idiom '$_=$val; s/a/b/; tr/c/d/; $_' (or '$val =~ s/a/b/; $val'): a list of
    substitutions on the value, or None if the code is anything else."""
    m = re.fullmatch(r"\s*\$_\s*=\s*\$val\s*[;,](.*)[;,]\s*\$_\s*;?\s*", code, re.S)
    if m:
        steps = re.split(r"[;,]", m.group(1))
    else:
        m = re.fullmatch(r"\s*\$val\s*=~\s*(.*?)[;,]\s*(\$val|\"[^\"]*\")\s*;?\s*", code, re.S)
        if m is None:
            return None
        steps = [m.group(1)]
        if m.group(2) != "$val":  # a string with the edited value in it
            steps.append(("q", m.group(2)[1:-1], "", ""))
    out = []
    for step in steps:
        if isinstance(step, tuple):
            out.append(step)
            continue
        e = _SUBST.fullmatch(step)
        if e is None or "\\L" in e.group(3) or "\\U" in e.group(3) or set(e.group(4)) - {"g", "i"}:
            return None
        out.append(e.groups())
    return out


def _edit_fn(steps):
    def run(v, _st):
        text = _s(v)
        for kind, pat, repl, flags in steps:
            if kind == "q":
                text = pat.replace("$val", text)
                continue
            if kind == "tr":
                if "-" in pat[1:-1] or "-" in repl[1:-1] or len(pat) != len(repl):
                    raise Unsupported("tr range")
                text = text.translate(str.maketrans(pat, repl))
                continue
            py_repl = re.sub(r"\$(\d)", r"\\g<\1>", re.sub(r"\\(?=[^\d$])", "", repl))
            rx = re.compile(pat.replace("\\0", "\\x00"), re.I if "i" in flags else 0)
            text = rx.sub(py_repl, text, count=0 if "g" in flags else 1)
        return text
    return run


def compile_code(code: str):
    """A function (value, state dict) -> value for the Perl ``code``, or None."""
    if code in _CACHE:
        return _CACHE[code]
    if code in STATEMENTS:
        return STATEMENTS[code]
    if code.startswith("\\&"):  # a code reference: the function applied to the value
        fn = FUNCTIONS.get(code[2:].split("::")[-1])
        _CACHE[code] = None if fn is None else (lambda v, st: fn(v))  # type: ignore
        return _CACHE[code]
    steps = _edits(code)
    if steps is not None:
        _CACHE[code] = _edit_fn(steps)
        return _CACHE[code]
    from engine.makernotes.perl_stmt import compile_program

    fn = compile_program(code)
    _CACHE[code] = fn
    return fn
