"""The daemon's shape: one view per node kind behind the ``View`` Protocol, and handlers that
dispatch to it without testing the node's kind themselves."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from support.ops_env import Env

from metafs import fs
from metafs.inodes import Kind
from metafs.views.base import View


def _protocol_methods() -> list[str]:
    return [name for name, value in vars(View).items()
            if inspect.isfunction(value) and not name.startswith("_")]


def test_every_kind_has_a_view_with_every_method(env: Env) -> None:
    methods = _protocol_methods()
    assert set(env.ops.views) == set(Kind)
    for kind, view in env.ops.views.items():
        for name in methods:
            mine = getattr(view, name)
            wanted = inspect.signature(getattr(View, name))
            got = inspect.signature(getattr(type(view), name))
            assert list(got.parameters) == list(wanted.parameters), (kind, name)
            assert callable(mine)
        assert isinstance(view.in_meta, bool) and isinstance(view.refusal, int), kind


def test_handlers_do_not_branch_on_the_node_kind() -> None:
    """Kind-specific behaviour lives in the views: a handler resolves and dispatches."""
    tree = ast.parse(Path(fs.__file__).read_text())
    ops = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Operations")
    for method in ops.body:
        if not isinstance(method, ast.AsyncFunctionDef):
            continue
        handler = any(isinstance(d, ast.Name) and d.id == "handler"
                      for d in method.decorator_list)
        if not handler:
            continue
        for node in ast.walk(method):
            if isinstance(node, ast.Compare):
                text = ast.unparse(node)
                assert ".kind" not in text and "Kind." not in text, (method.name, text)

