"""Exactness of the DCGAN importers (PyTorch-tutorial layout incl. the real gan_face_generate wheel, and the GAN
zoo's DCGAN) against outputs the upstream code computed, and their refusals."""
import copy
import io
import zipfile

import pytest
import torch

import ganlab
from ganlab.importers import detect, import_model
from ganlab.models import CheckpointError

from .importer_fixtures import FIXTURES, check, expected, needs

WHEEL = FIXTURES / "dcgan-tutorial" / "gan_face_generate-1.1.1-py3-none-any.whl"
ZOO = FIXTURES / "dcgan-zoo" / "dcgan64.pth"


@needs("dcgan-tutorial")
def test_tutorial_wheel_imports_exactly_and_round_trips(tmp_path):
    e = expected("dcgan-tutorial")
    z = e["z"].view(8, 100)
    assert detect(WHEEL) == "dcgan-tutorial"
    folder = import_model(WHEEL, tmp_path / "faces")
    m = ganlab.load(str(folder))
    assert (m.family, m.image_size, m.channels, m.z_dim) == ("dcgan-radford", 64, 3, 100)
    src = m.info["source"]
    assert src["format"] == "dcgan-tutorial" and "MIT" in src["licence"] and len(src["sha256"]) == 64
    assert src["upstream"]["ngf"] == 64 and src["upstream"]["member"] == "gan_face_generate/weights.tar"
    with torch.no_grad():
        check("dcgan-tutorial", "img_eval", m.generate(z), e["img_eval"])
        check("dcgan-tutorial", "img_trainmode_batchstats (train mode)", copy.deepcopy(m).train()(z),
              e["img_trainmode_batchstats"])
    assert "DigiFace" in (folder / "README.md").read_text()


@needs("dcgan-tutorial")
def test_tutorial_bare_state_dict_file_imports_too(tmp_path):
    weights = tmp_path / "weights.tar"
    with zipfile.ZipFile(WHEEL) as z:
        weights.write_bytes(z.read("gan_face_generate/weights.tar"))
    state = torch.load(weights, map_location="cpu", weights_only=True)["netG_state_dict"]
    plain = tmp_path / "netG.pt"
    torch.save(state, plain)                                   # the state dict itself, not wrapped
    e = expected("dcgan-tutorial")
    for f in (weights, plain):
        m = ganlab.load(str(import_model(f, tmp_path / f"out-{f.stem}")))
        with torch.no_grad():
            check("dcgan-tutorial", f"img_eval ({f.name})", m.generate(e["z"].view(8, 100)), e["img_eval"])


@needs("dcgan-zoo")
def test_zoo_dcgan_netg_and_avgg_match_upstream(tmp_path):
    e = expected("dcgan-zoo")
    noise = e["noise"]
    assert detect(ZOO) == "dcgan-zoo"
    m = ganlab.load(str(import_model(ZOO, tmp_path / "netG")))
    a = ganlab.load(str(import_model(ZOO, tmp_path / "avgG", avg=True)))
    assert m.info["source"]["upstream"]["generator"] == "netG" and a.info["source"]["upstream"]["generator"] == "avgG"
    with torch.no_grad():
        check("dcgan-zoo", "img_netG_evalmode", m.generate(noise), e["img_netG_evalmode"])
        check("dcgan-zoo", "img_avgG_checkpoint_evalmode", a.generate(noise), e["img_avgG_checkpoint_evalmode"])
        # the zoo's model.test runs BatchNorm in training mode (batch statistics): the same weights in train mode
        check("dcgan-zoo", "img_test_netG (train mode)", copy.deepcopy(m).train()(noise), e["img_test_netG"])
        check("dcgan-zoo", "img_test_getAvG (hub = netG, train mode)", copy.deepcopy(m).train()(noise),
              e["img_test_getAvG"])
        check("dcgan-zoo", "img_avgG_checkpoint (train mode)", copy.deepcopy(a).train()(noise),
              e["img_avgG_checkpoint"])


@needs("dcgan-zoo")
def test_zoo_import_writes_a_folder_that_serves_like_a_bundled_model(tmp_path):
    folder = import_model(ZOO, tmp_path / "zoo")
    m = ganlab.load(str(folder))
    again = ganlab.load(str(import_model(ZOO, tmp_path / "zoo2")))
    z = m.latents(3, seed=5)
    assert torch.equal(m.generate(z), again.generate(z))
    img = m.sample(2, seed=1)
    assert img.shape == (2, 64, 64, 3) and img.dtype.name == "uint8"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]


def test_unknown_and_corrupt_files_are_refused_clearly(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"definitely not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="not a checkpoint format ganlab can import"):
        import_model(junk, tmp_path / "out")
    with pytest.raises(CheckpointError, match="not a readable torch checkpoint|does not look like"):
        import_model(junk, tmp_path / "out", format="dcgan-tutorial")
    assert not (tmp_path / "out").exists()
    if ZOO.is_file():
        cut = tmp_path / "cut.pth"
        cut.write_bytes(ZOO.read_bytes()[: ZOO.stat().st_size // 2])
        with pytest.raises(CheckpointError):
            import_model(cut, tmp_path / "out2", format="dcgan-zoo")
        assert not (tmp_path / "out2").exists()
        with pytest.raises(CheckpointError, match="does not take the option"):
            import_model(ZOO, tmp_path / "out3", psi=0.5)


class Payload:
    """Unpickling this would create a file: the weights-only loader must refuse it before that happens."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_a_state_dict_file_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    state = {"main.0.weight": torch.zeros(4, 8, 4, 4), "main.1.running_mean": torch.zeros(8), "x": Payload(str(marker))}
    torch.save(state, evil)
    with pytest.raises(CheckpointError, match="refused by the weights-only loader.*'builtins\\.open'|"
                                              "refused by the weights-only loader.*open"):
        import_model(evil, tmp_path / "out", format="dcgan-tutorial")
    assert not marker.exists() and not (tmp_path / "out").exists()
    buf = io.BytesIO()
    torch.save({"config": Payload(str(marker)), "netG": {"main.batchNorm0.running_mean": torch.zeros(1),
                                                      "main.outlayer.weight": torch.zeros(1)}}, buf)
    zoo = tmp_path / "evil_zoo.pth"
    zoo.write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError, match="refused"):
        import_model(zoo, tmp_path / "out", format="dcgan-zoo")
    assert not marker.exists()


@needs("dcgan-tutorial")
def test_tutorial_state_dict_saved_from_data_parallel(tmp_path):
    with zipfile.ZipFile(WHEEL) as z:
        state = torch.load(io.BytesIO(z.read("gan_face_generate/weights.tar")), map_location="cpu",
                           weights_only=True)["netG_state_dict"]
    f = tmp_path / "dp.pth"
    torch.save({"netG": {f"module.{k}": v for k, v in state.items()}}, f)
    assert detect(f) == "dcgan-tutorial"
    e = expected("dcgan-tutorial")
    m = ganlab.load(str(import_model(f, tmp_path / "out")))
    with torch.no_grad():
        check("dcgan-tutorial", "img_eval (DataParallel keys)", m.generate(e["z"].view(8, 100)), e["img_eval"])
