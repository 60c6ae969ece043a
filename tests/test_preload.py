"""ganlab.preload with the real download module against a local HTTP server serving files the tests write, and a
small real import function (it writes a checkpoint-shaped folder from the downloaded bytes)."""
import hashlib
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from ganlab import catalog, preload
from ganlab.preload import Preloader

from .http_fixtures import refused_url, serve
from .made_files import catalog_wheel, nvidia_pickle, torch_file

PGAN, DCGAN = "pgan-zoo/pgan32.pth", "dcgan-zoo/dcgan64.pth"


class FolderWriter:
    """import_fn: writes config.json (+ where it came from) and model.safetensors (the first bytes of the source)."""

    def __init__(self, preloader_ref=None, fail_on=None, gate: threading.Event | None = None):
        self.calls, self.seen_status, self.fail_on, self.gate = [], [], fail_on, gate
        self.preloader_ref = preloader_ref

    def __call__(self, source, out_dir, progress=None, **options):
        if self.preloader_ref:
            self.seen_status.append({s["name"]: s for s in self.preloader_ref[0].status()})
        if self.gate is not None:
            self.gate.wait(30)
        self.calls.append((Path(source), options))
        if self.fail_on and self.fail_on in str(source):
            raise ValueError(f"{Path(source).name}: not a checkpoint format ganlab can import")
        out = Path(out_dir)
        out.mkdir(parents=True)
        data = Path(source).read_bytes()
        (out / "config.json").write_text(json.dumps({"family": "dcgan", "format_version": 1, "source": {
            "origin": str(source), "sha256": hashlib.sha256(data).hexdigest(), **options}}))
        save_file({"w": np.frombuffer(data[:4096], dtype=np.uint8).copy()}, str(out / "model.safetensors"))
        return out


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GANLAB_MODELS_DIR", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Path:
    """The folder the server serves: two torch files and an NVIDIA-layout pickle, random weights."""
    root = tmp_path_factory.mktemp("www")
    for rel, numel in ((PGAN, 250_000), (DCGAN, 100_000)):
        (root / rel).parent.mkdir()
        torch_file(root / rel, numel, seed=numel)
    nvidia_pickle(root / "rgb32.pkl")
    return root


def test_parse_and_names():
    assert preload.parse(" progan-celebahq-512, ,https://h/x/w.pth,progan-celebahq-512,/srv/m/My Model.pkl ") == [
        "progan-celebahq-512", "https://h/x/w.pth", "/srv/m/My Model.pkl"]
    assert preload.parse(None) == [] and preload.parse("") == []
    assert preload.model_name("PROGAN-CelebAHQ-512") == "progan-celebahq-512"
    assert preload.model_name("https://h/x/w.pth?download=1") == "w"
    assert preload.model_name("/srv/m/My Model.pkl") == "my-model"
    p = Preloader(["https://a/w.pth", "https://b/w.pth"], FolderWriter(), out_root=Path("/nonexistent"))
    assert [i.name for i in p.items] == ["w", "w-2"]


def test_models_dir_prefers_persistent_storage(tmp_path, monkeypatch):
    monkeypatch.delenv("GANLAB_MODELS_DIR", raising=False)
    data = tmp_path / "data"
    assert preload.models_dir(data) != data / "ganlab" / "models"             # no /data: the standard cache
    assert preload.models_dir(data).parts[-2:] == ("ganlab", "models")
    data.mkdir()
    assert preload.models_dir(data) == data / "ganlab" / "models"
    data.chmod(0o500)
    try:
        import os
        if not os.access(data, os.W_OK):                                       # (root may write anyway)
            assert preload.models_dir(data) != data / "ganlab" / "models"
    finally:
        data.chmod(0o700)
    monkeypatch.setenv("GANLAB_MODELS_DIR", str(tmp_path / "explicit"))
    assert preload.models_dir(data) == tmp_path / "explicit"


def test_preload_downloads_converts_reports_and_survives_a_restart(env, tmp_path, served):
    local = tmp_path / "local-model.pt"
    local.write_bytes((served / "rgb32.pkl").read_bytes())
    with serve(served) as srv:
        sources = [srv.url(PGAN), "no-such-model", refused_url(), str(local), srv.url(DCGAN)]
        ref = []
        fn = FolderWriter(ref)
        p = Preloader(sources, fn, out_root=tmp_path / "models")
        ref.append(p)
        assert [s["text"] for s in p.status()] == ["queued"] * 5
        t = time.perf_counter()
        p.start()
        assert time.perf_counter() - t < 0.5                                   # the page does not wait
        assert p.wait(60)
        st = {s["name"]: s for s in p.status()}
        assert [st[n]["state"] for n in ("pgan32", "no-such-model", "ffhq", "local-model", "dcgan64")] == [
            "ready", "failed", "failed", "ready", "ready"]
        assert st["no-such-model"]["text"].startswith("failed: no-such-model: no such file, and not a catalog name")
        assert "cannot reach 127.0.0.1" in st["ffhq"]["text"]
        assert p.ready() == ["pgan32", "local-model", "dcgan64"]
        # while converting, the item said so and its download was complete
        first = fn.seen_status[0]["pgan32"]
        size = (served / PGAN).stat().st_size
        assert first["state"] == "converting" and first["done"] == first["total"] == size
        # folders in place, markers written, nothing half-done left
        root = tmp_path / "models"
        assert sorted(d.name for d in root.iterdir()) == [".preload", "dcgan64", "local-model", "pgan32"]
        for n in p.ready():
            assert (root / n / "config.json").is_file() and (root / n / "model.safetensors").is_file()
        assert json.loads((root / ".preload" / "pgan32.json").read_text())["sha256"] == hashlib.sha256(
            (served / PGAN).read_bytes()).hexdigest()

        # a restart: nothing downloaded or converted again
        n_requests, fn2 = len(srv.requests), FolderWriter()
        p2 = Preloader(sources, fn2, out_root=root).start()
        assert p2.wait(60)
        assert p2.ready() == ["pgan32", "local-model", "dcgan64"]
        assert fn2.calls == []
        assert [r for r in srv.requests[n_requests:]] == []

        # the operator replaced the local file: converted again
        local.write_bytes((served / PGAN).read_bytes())
        fn3 = FolderWriter()
        p3 = Preloader([str(local)], fn3, out_root=root).start()
        assert p3.wait(60) and p3.ready() == ["local-model"] and len(fn3.calls) == 1
        assert sorted(d.name for d in root.iterdir()) == [".preload", "dcgan64", "local-model", "pgan32"]


def test_failed_conversion_leaves_nothing_and_others_continue(env, tmp_path, served):
    with serve(served) as srv:
        sources = [srv.url(PGAN), srv.url(DCGAN)]
        p = Preloader(sources, FolderWriter(fail_on="pgan32"), out_root=tmp_path / "models").start()
        assert p.wait(60)
    st = p.status()
    assert st[0]["text"] == "failed: pgan32.pth: not a checkpoint format ganlab can import"
    assert st[1]["state"] == "ready"
    assert sorted(d.name for d in (tmp_path / "models").iterdir()) == [".preload", "dcgan64"]


def test_status_while_converting_and_on_ready(env, tmp_path, served):
    gate, ready = threading.Event(), []
    with serve(served) as srv:
        p = Preloader([srv.url(PGAN)], FolderWriter(gate=gate), out_root=tmp_path / "models",
                      on_ready=lambda name, folder: ready.append((name, folder))).start()
        deadline = time.monotonic() + 30
        while p.status()[0]["state"] != "converting" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert p.status()[0]["text"] == "converting" and not p.done()
        gate.set()
        assert p.wait(30)
    assert ready == [("pgan32", tmp_path / "models" / "pgan32")]


def test_item_text():
    i = preload.Item("x", "x", state="downloading", done=12_345_678, total=381_000_000)
    assert i.text() == "downloading 12.3 MB of 381.0 MB"
    i.total = None
    assert i.text() == "downloading 12.3 MB of ?"


def test_catalog_item_passes_format_and_uses_pip_index(env, tmp_path, monkeypatch):
    (tmp_path / "index").mkdir()
    _, entry = catalog_wheel(tmp_path / "index")             # a wheel for dcgan-faces; the catalog carries its hash
    monkeypatch.setitem(catalog._BY_NAME, entry.name, entry)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "index"))
    monkeypatch.setenv("GANLAB_MODELS_DIR", str(tmp_path / "models"))
    fn = FolderWriter()
    p = preload.start_from_env(fn, env={"GANLAB_PRELOAD": "dcgan-faces"})
    assert p.out_root == tmp_path / "models"
    assert p is preload.current() and p.wait(120), p.status()
    assert p.ready() == ["dcgan-faces"]
    src, options = fn.calls[0]
    assert src.name == "weights.tar" and options == {"format": "dcgan-tutorial", "catalog_name": "dcgan-faces"}
    assert preload.start_from_env(fn, env={"GANLAB_PRELOAD": " , "}) is None
