"""Issue 16, files nobody here has seen: a few of scripts/variant_survey.py's variants (made
by ExifTool and Pillow at run time, never committed) get a one-tag edit and a delete from
metafs, judged by ExifTool as the survey judges them (tests/support/write_compat.py).

The whole survey (about 70 variants, metafs and ExifTool side by side) is a script:
``.venv/bin/python scripts/variant_survey.py``; here, one variant of each kind the corpus
lacks: TIFF SubIFDs big-endian, PNG eXIf after IDAT, JPEG with MPF rewritten by ExifTool,
WebP with ICC+EXIF+XMP, a real RW2 whose JpgFromRaw ExifTool left without APP1.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import variant_makers as VM  # noqa: E402
import variant_survey as VS  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")

VARIANTS = {"subifds_be": "tif", "exif_after_idat": "png", "mpf_pillow_mpo_et_xmp": "jpg",
            "icc_exif_xmp_pillow": "webp", "Panasonic_et_exif_removed": "rw2"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("inputs")
    VM.shared_inputs(src)
    return src


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_written_cleanly(tmp_path: Path, inputs: Path, name: str) -> None:
    make = next((m for _f, n, m in VM.makers() if n == name), None)
    if make is None:
        pytest.skip("its source is in the corpus, absent here")
    p = tmp_path / f"{name}.{VARIANTS[name]}"
    make(inputs, p)
    before = VS.exiftool_all(p)
    ops = VS.ops_for(before)
    assert len(ops) == 2  # a set and a delete
    for i, op in enumerate(ops):
        assert VS.judge("metafs", p, before, tmp_path / str(i), op) == ("clean", "")
