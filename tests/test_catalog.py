"""The catalog's data: consistent names, formats, hashes and licences; its two renderings."""
import hashlib
import re

import pytest

from ganlab import catalog
from ganlab.catalog import ENTRIES

from .importer_fixtures import FIXTURES


def test_entries_are_consistent():
    names = [e.name for e in ENTRIES]
    assert len(names) == len(set(names))
    for e in ENTRIES:
        assert re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", e.name), e.name       # a valid model folder name
        assert e.format in catalog.FORMATS
        assert e.url.startswith(("https://", "pip:")), e.url
        assert e.resolution in (32, 64, 128, 256, 512, 1024) and e.channels == 3
        assert e.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", e.sha256)
        if e.sha256_prefix:                      # torch.hub names end in -<sha256 prefix>.pth
            assert e.filename.endswith(f"-{e.sha256_prefix}.pth")
        assert catalog.get(e.name.upper()) is e
    # the lecture's models are all there
    for n in ("stylegan2-ada-ffhq", "stylegan2-ada-metfaces", "stylegan2-ada-afhqcat", "stylegan2-ada-afhqdog",
              "stylegan2-ada-afhqwild", "stylegan2-ada-cifar10", "stylegan1-ffhq", "progan-celebahq-256",
              "progan-celebahq-512", "progan-celeba", "progan-dtd", "dcgan-zoo-fashiongen", "dcgan-faces"):
        assert catalog.find(n) is not None, n
    assert catalog.get("stylegan2-ada-cifar10").num_classes == 10


def test_non_commercial_licences_are_flagged():
    for e in ENTRIES:
        if e.format == "stylegan2-ada":
            assert e.non_commercial is True and "NVIDIA Source Code License-NC" in e.licence
        if "FFHQ" in e.dataset or "CelebA" in e.dataset:
            assert e.non_commercial is True and "NON-COMMERCIAL" in catalog.licence_text(e)


def test_pip_entry_matches_the_published_wheel():
    e = catalog.get("dcgan-faces")
    wheel = FIXTURES / "dcgan-tutorial" / e.filename
    if not wheel.is_file():
        pytest.skip(f"needs {wheel}, the wheel published on PyPI")
    assert wheel.stat().st_size == e.size
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == e.sha256


def test_renderings():
    table = catalog.markdown_table().splitlines()
    assert len(table) == 2 + len(ENTRIES)
    assert all(ln.count(" | ") == table[0].count(" | ") for ln in table[2:])
    assert sum("**NON-COMMERCIAL**" in ln for ln in table) == sum(bool(e.non_commercial) for e in ENTRIES)
    rows = catalog.rows()
    assert len(rows) == len(ENTRIES) and all(len(r) == len(catalog.COLUMNS) for r in rows)
    assert rows[0][0] == ENTRIES[0].name and rows[0][5] == "size not published"   # ffhq.pkl's size is not published


def test_one_non_commercial_rule():
    """The catalog's word where the weights came from it, else the licence text; the card and the app say the same."""
    from ganlab.card import licence_line

    nc = catalog.get("progan-celeba")
    dtd = catalog.get("progan-dtd")                     # the catalog does not say: the text decides
    assert catalog.non_commercial("", nc.url) is True and catalog.non_commercial(None, dtd.url) is None
    assert catalog.non_commercial("CC BY-NC 4.0") is True and catalog.non_commercial("MIT") is None
    assert catalog.non_commercial("NVIDIA Source Code License, non-commercial") is True
    for source, mark in [({"licence": "CC BY-NC 4.0"}, "**non-commercial**: "),
                         ({"licence": "MIT", "origin": "x.pt"}, "check before commercial use: "),
                         ({"licence": None, "origin": nc.url}, "**non-commercial**: ")]:
        assert licence_line(source).startswith(mark)
