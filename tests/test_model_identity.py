"""One model per source: a preload or import of a file that is a catalog entry becomes that entry (its name, and
so its card, licence and dataset), and importing the same file again is recognised, not duplicated."""
from pathlib import Path

import pytest

from ganlab import catalog
from ganlab.preload import Preloader

from .http_fixtures import serve
from .importer_fixtures import FIXTURES
from .test_preload import FolderWriter, env  # noqa: F401 (env: a fixture)

WHEEL = "dcgan-tutorial/gan_face_generate-1.1.1-py3-none-any.whl"
needs_fixtures = pytest.mark.skipif(not (FIXTURES / WHEEL).is_file(), reason=f"../shared/fixtures/{WHEEL} not present")


def test_a_catalog_file_is_known_by_its_url_or_its_published_hash():
    faces, dtd = catalog.get("dcgan-faces"), catalog.get("progan-dtd")
    assert catalog.identify(dtd.url) is dtd and catalog.identify(" DCGAN-Faces ") is faces
    assert catalog.identify("https://mirror.example/any-name.whl", faces.sha256) is faces
    dtd_sha = dtd.sha256_prefix + "0" * (64 - len(dtd.sha256_prefix))
    assert catalog.identify("/srv/models/" + dtd.filename, dtd_sha) is dtd          # the torch.hub prefix
    assert catalog.identify("/srv/models/renamed.pth", dtd_sha) is None             # ... needs the file name too
    assert catalog.identify("https://example.org/ffhq.pkl", "ab" * 32) is None       # a name alone proves nothing
    assert catalog.identify("https://example.org/ffhq.pkl") is None


@needs_fixtures
def test_a_preload_of_a_catalog_file_by_url_becomes_the_entry_and_an_import_recognises_it(env, tmp_path):
    root = tmp_path / "models"
    with serve(FIXTURES) as srv:
        writer = FolderWriter()
        p = Preloader([srv.url(WHEEL)], writer, out_root=root).start()
        assert p.wait(60), p.status()
        assert p.ready() == ["dcgan-faces"]                          # not "gan_face_generate-1.1.1-py3-none-any"
        (src, options), = writer.calls
        assert options == {"format": "dcgan-tutorial", "catalog_name": "dcgan-faces"}   # the entry's card and licence
        assert sorted(d.name for d in root.iterdir()) == [".preload", "dcgan-faces"]

        again = FolderWriter()                                        # the page's Import of the catalog entry
        p2 = Preloader([], again, out_root=root)
        item = p2.add("dcgan-faces", catalog_only=True)
        assert p2.wait(60) and item.state == "ready" and item.name == "dcgan-faces", p2.status()
        assert again.calls == [] and sorted(d.name for d in root.iterdir()) == [".preload", "dcgan-faces"]

        third = FolderWriter()                                        # the same URL once more (a restart)
        p3 = Preloader([srv.url(WHEEL)], third, out_root=root).start()
        assert p3.wait(60) and p3.ready() == ["dcgan-faces"] and third.calls == []
