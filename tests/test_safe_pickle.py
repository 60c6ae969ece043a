"""The restricted unpickler never runs what a file contains.

Every malicious payload here is first shown to be live: a plain ``pickle.load`` in a child process creates the
marker file. Then ganlab's loader must refuse it (naming the refused global) and leave no file behind.
"""
import os
import pickle
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import ganlab
from ganlab.importers import _pickle
from ganlab.models import CheckpointError

from .importer_fixtures import FIXTURES
from .made_files import nvidia_pickle

COND32 = FIXTURES / "stylegan2-ada" / "cond32.pkl"            # written by NVlabs' stylegan2-ada-pytorch


class _Reduce:
    """Pickles as ``func(*args)``."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _fake_persistence(root: Path) -> None:
    """A stand-in ``torch_utils.persistence`` that does what the real one does with module_src: exec it."""
    pkg = root / "torch_utils"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "persistence.py").write_text(textwrap.dedent("""
        def _reconstruct_persistent_obj(meta):
            exec(compile(meta['module_src'], '<module_src>', 'exec'), {})
            return meta
    """))


def _persistent_payload(marker: Path) -> bytes:
    """A pickle of ``_reconstruct_persistent_obj(meta)`` whose module_src writes ``marker``, as NVIDIA's format."""
    pkg, mod = types.ModuleType("torch_utils"), types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):
        return meta
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    mod._reconstruct_persistent_obj = _reconstruct_persistent_obj
    sys.modules.update({"torch_utils": pkg, "torch_utils.persistence": mod})
    try:
        meta = dict(type="class", version=6, module_src=f"open({str(marker)!r}, 'w').write('pwned')\n",
                    class_name="Generator", state={"_init_args": (), "_init_kwargs": {}, "_parameters": {},
                                                   "_buffers": {}, "_modules": {}})
        return pickle.dumps({"G_ema": _Reduce(_reconstruct_persistent_obj, (meta,))}, protocol=2)
    finally:
        del sys.modules["torch_utils"], sys.modules["torch_utils.persistence"]


def _plain_load_in_child(path: Path, pythonpath: Path | None = None) -> None:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    code = f"import pickle\ntry:\n    pickle.load(open({str(path)!r}, 'rb'))\nexcept Exception:\n    pass\n"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)


PAYLOADS = {  # name → (callable, args builder, the global the refusal must name)
    "os.system": (os.system, lambda m: (f"touch {m}",), "system"),
    "builtins.exec": (exec, lambda m: (f"open({str(m)!r}, 'w').close()",), "builtins.exec"),
    "subprocess.call": (subprocess.call, lambda m: (["touch", str(m)],), "subprocess.call"),
}


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_code_payload_refused_and_not_run(tmp_path, name):
    func, args, refused = PAYLOADS[name]
    live, marker = tmp_path / "live", tmp_path / "marker"
    for target in (live, marker):
        (tmp_path / f"{target.name}.pkl").write_bytes(pickle.dumps({"G_ema": _Reduce(func, args(target))}))
    _plain_load_in_child(tmp_path / "live.pkl")
    assert live.exists(), "control: a plain pickle.load of this payload must create the file"
    with pytest.raises(CheckpointError, match=r"refused to load the global .*" + refused.replace(".", r"\.")):
        _pickle.load_pickle(tmp_path / "marker.pkl")
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refused"):           # the public entry point refuses it too
        ganlab.import_model(tmp_path / "marker.pkl", tmp_path / "out", format="stylegan2-ada")
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_persistent_module_src_is_never_executed(tmp_path):
    live, marker = tmp_path / "live", tmp_path / "marker"
    (tmp_path / "live.pkl").write_bytes(_persistent_payload(live))
    (tmp_path / "marker.pkl").write_bytes(_persistent_payload(marker))
    fake = tmp_path / "fake_upstream"
    fake.mkdir()
    _fake_persistence(fake)
    _plain_load_in_child(tmp_path / "live.pkl", pythonpath=fake)
    assert live.exists(), "control: unpickling with upstream's persistence would run module_src"
    data = _pickle.load_pickle(tmp_path / "marker.pkl")               # read as plain data
    assert isinstance(data["G_ema"], _pickle.PersistedObject) and data["G_ema"].class_name == "Generator"
    assert not marker.exists()
    with pytest.raises(CheckpointError):                              # not a usable generator: refused at import
        ganlab.import_model(tmp_path / "marker.pkl", tmp_path / "out", format="stylegan2-ada")
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_unknown_globals_refused(tmp_path):
    cases = {"torch.nn.modules.linear.Linear": torch.nn.Linear(2, 2),
             "numpy.random": np.random.RandomState(0),                     # any class outside the allow-list
             "builtins.getattr": _Reduce(getattr, ("text", "upper"))}
    for name, obj in cases.items():
        path = tmp_path / "x.pkl"
        path.write_bytes(pickle.dumps(obj))
        with pytest.raises(CheckpointError, match="refused to load the global " + name.split(".")[0]):
            _pickle.load_pickle(path)


def test_object_numpy_dtype_refused(tmp_path):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(np.array([1, "a"], dtype=object)))
    with pytest.raises(CheckpointError, match="refused"):
        _pickle.load_pickle(path)


def test_numeric_numpy_data_is_read(tmp_path):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps({"gain": np.float64(1.5), "n": np.int64(3), "s": {1, 2}}))
    assert _pickle.load_pickle(path) == {"gain": 1.5, "n": 3, "s": {1, 2}}


def test_corrupt_and_truncated_pickles(tmp_path):
    good = nvidia_pickle(tmp_path / "good.pkl").read_bytes()
    assert _pickle.load_pickle(tmp_path / "good.pkl")["G_ema"].class_name == "Generator"       # control
    for name, data in {"trunc": good[: len(good) // 2], "junk": b"\x80\x04not a pickle"}.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CheckpointError, match="not a readable pickle"):
            _pickle.load_pickle(tmp_path / name)


def test_state_dict_pt_goes_through_weights_only(tmp_path):
    live, marker = tmp_path / "live", tmp_path / "marker"
    torch.save({"w": torch.ones(2), "evil": _Reduce(os.system, (f"touch {live}",))}, tmp_path / "live.pt")
    subprocess.run([sys.executable, "-c", f"import torch; torch.load({str(tmp_path / 'live.pt')!r}, weights_only=False)"],
                   check=True, timeout=120)
    assert live.exists(), "control: a full torch.load of this file runs the payload"
    torch.save({"w": torch.ones(2), "evil": _Reduce(os.system, (f"touch {marker}",))}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="weights-only.*system"):
        _pickle.torch_load(tmp_path / "evil.pt")
    assert not marker.exists()
    torch.save({"w": torch.ones(2)}, tmp_path / "ok.pt")
    assert torch.equal(_pickle.torch_load(tmp_path / "ok.pt")["w"], torch.ones(2))


@pytest.mark.skipif(not COND32.is_file(), reason=f"needs {COND32}, written by NVlabs' code")
def test_fixture_read_as_data():
    data = _pickle.load_pickle(COND32)
    g = data["G_ema"]
    assert g.class_name == "Generator" and g.init_kwargs["c_dim"] == 4
    sd = g.state_dict()
    assert sd["mapping.w_avg"].shape == (64,) and sd["synthesis.b32.conv0.resample_filter"].shape == (4, 4)
    assert all(isinstance(v, torch.Tensor) and not v.requires_grad for v in sd.values())
