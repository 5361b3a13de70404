"""``metafs write``'s plain command lines are parsed without argparse: both must agree.

``quick_write_args`` either returns exactly what argparse would, or declines (None) and lets
argparse parse (and report errors, print help...).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metafs.cli import build_parser, cmd_write, quick_write_args

TOKENS = [
    "a.jpg", "b.jpg", "dir/c.jpg", "", "--set", "Make=X", "Artist=A=B", "--delete", "Artist",
    "--no-sync", "--no-backup", "--backups", "/tmp/originals", "-h", "--help", "--set=Make=Y",
    "--no-s", "--del", "-5", "-", "--", "write", "read",
]


def argparse_args(argv: list[str]) -> dict | None:
    try:
        ns = build_parser().parse_args(argv)
    except SystemExit:
        return None
    return vars(ns)


def check(argv: list[str]) -> None:
    quick = quick_write_args(argv)
    if quick is None:
        return  # argparse's to parse (or refuse)
    expected = argparse_args(argv)
    assert expected is not None, f"argparse refuses {argv} but the fast path took it"
    assert vars(quick) == expected


@pytest.mark.parametrize("argv", [
    ["write", "a.jpg", "--set", "Make=X"],
    ["write", "a.jpg", "b.jpg", "--set", "Make=X", "--set", "Artist=Y", "--delete", "Model"],
    ["write", "--set", "Make=X", "--no-sync", "--no-backup", "--backups", "/o", "a.jpg"],
    ["write", "--backups", "/o", "--backups", "/p", "a.jpg", "--no-sync"],
])
def test_plain_command_lines_take_the_fast_path(argv: list[str]) -> None:
    quick = quick_write_args(argv)
    assert quick is not None and quick.func is cmd_write
    check(argv)


@pytest.mark.parametrize("argv", [
    ["write"], ["write", "--help"], ["write", "-h", "a.jpg"], ["write", "a.jpg", "--set"],
    ["write", "a.jpg", "--set", "-5"], ["write", "a.jpg", "--set=Make=X"],
    ["write", "a.jpg", "--no-s"], ["write", "a.jpg", "--set", "Make=X", "b.jpg"],
    ["write", "--", "a.jpg"], ["read", "a.jpg"], [],
])
def test_anything_else_goes_to_argparse(argv: list[str]) -> None:
    assert quick_write_args(argv) is None


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=8))
def test_fast_path_agrees_with_argparse(tail: list[str]) -> None:
    check(["write", *tail])
