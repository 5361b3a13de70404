"""Help that teaches (issue 15): examples in every command's --help, and ``metafs tags``
listing tag paths (``exiftool -list``/``-listw``) or telling what one tag accepts."""

from __future__ import annotations

import pytest

from metafs.cli import build_parser, main

COMMANDS = ["read", "write", "restore", "copy-tags", "mount", "umount", "tags"]


def help_text(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_examples(command: str, capsys) -> None:
    text = help_text(capsys, command)
    assert "example" in text and f"metafs {command} " in text


def test_write_help_explains_paths_lists_sync_and_exit_status(capsys) -> None:
    text = help_text(capsys, "write")
    for words in ("xmp/dc:title", "iptc/Keywords", "one item per", "--no-sync",
                  "exit status", "image files updated", ".originals/", "--keep-mtime",
                  "--csv", "metafs tags"):
        assert words in text, words


def test_tags_lists_writable_paths_with_kind_and_forms(capsys) -> None:
    assert main(["tags", "--writable", "xmp/dc"]) == 0
    lines = capsys.readouterr().out.splitlines()
    subject = next(line for line in lines if line.startswith("xmp/dc:subject "))
    assert "a list, one item per line" in subject
    assert all(line.startswith("xmp/dc:") for line in lines)
    assert main(["tags", "iptc"]) == 0
    out = capsys.readouterr().out
    assert "iptc/Keywords" in out and "at most 64 bytes" in out


def test_writable_leaves_out_read_only_tags(capsys) -> None:
    assert main(["tags", "exif"]) == 0
    every = capsys.readouterr().out
    assert main(["tags", "--writable", "exif"]) == 0
    writable = capsys.readouterr().out
    assert "read only" in every and "read only" not in writable
    assert "\nOrientation " in writable


def test_one_tag_enum_values_and_example(capsys) -> None:
    assert main(["tags", "Orientation"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Orientation: enum"
    assert 'metafs write photo.jpg --set "Orientation=Horizontal (normal)"' in out[2]
    assert "    Rotate 90 CW = 6" in out


def test_one_xmp_field_and_unknown_names(capsys) -> None:
    assert main(["tags", "xmp/Iptc4xmpCore:CreatorContactInfo/Iptc4xmpCore:CiAdrCity"]) == 0
    assert "accepts: text" in capsys.readouterr().out
    assert main(["tags", "NoSuchTag"]) == 1
    assert "no such EXIF tag" in capsys.readouterr().err
    assert main(["tags", "xmp/zz"]) == 1
    assert "no tag group" in capsys.readouterr().err


def test_parser_builds() -> None:
    assert build_parser().parse_args(["tags"]).what is None
