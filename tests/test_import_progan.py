"""Exactness of the GAN zoo ProGAN importer against the zoo's own outputs, and the configurations it refuses."""
import pytest
import torch

import ganlab
from ganlab.importers import detect, import_model
from ganlab.models import CheckpointError, progan

from .importer_fixtures import FIXTURES, check, expected, needs

PGAN = FIXTURES / "pgan-zoo" / "pgan32.pth"


@needs("pgan-zoo")
def test_progan_netg_and_avgg_match_the_zoo(tmp_path):
    e = expected("pgan-zoo")
    noise = e["noise"]
    assert detect(PGAN) == "progan"
    m = ganlab.load(str(import_model(PGAN, tmp_path / "netG")))
    a = ganlab.load(str(import_model(PGAN, tmp_path / "avgG", avg=True)))
    assert (m.family, m.image_size, m.channels, m.z_dim) == ("progan", 32, 3, 64)
    assert m.config.scale_channels == (32, 32, 32, 16) and m.config.output_activation == "none"
    up = m.info["source"]["upstream"]
    assert up["generator"] == "netG" and up["depthOtherScales"] == [32, 32, 16]
    with torch.no_grad():
        check("progan", "img_test_netG", m.generate(noise), e["img_test_netG"])
        check("progan", "img_test_getAvG (hub branch = netG)", m.generate(noise), e["img_test_getAvG"])
        check("progan", "img_avgG_checkpoint (avg=True)", a.generate(noise), e["img_avgG_checkpoint"])
        # no output activation with WGAN-GP: the raw outputs match too, beyond [-1, 1]
        check("progan", "img_test_netG (raw, unclamped)", m(noise), e["img_test_netG"], clamp=False)


@needs("pgan-zoo")
def test_progan_round_trip_and_sampling(tmp_path):
    m = ganlab.load(str(import_model(PGAN, tmp_path / "p")))
    z = m.latents(2, seed=3)
    assert torch.equal(m.generate(z), ganlab.load(str(tmp_path / "p")).generate(z))
    assert m.sample(2, seed=0).shape == (2, 32, 32, 3)


def test_progan_fade_in_blends_the_previous_scale():
    """alpha = 1 gives exactly the previous scale's toRGB image, upsampled (the zoo's fade-in start)."""
    torch.manual_seed(0)
    full = progan.Generator({"z_dim": 8, "scale_channels": (8, 8, 4), "image_size": 16, "alpha": 1.0})
    lower = progan.Generator({"z_dim": 8, "scale_channels": (8, 8), "image_size": 8})
    lower.load_state_dict({k: v for k, v in full.state_dict().items() if not k.startswith(("scales.1", "to_rgb.2"))})
    z = torch.randn(3, 8)
    with torch.no_grad():
        assert torch.allclose(full(z), progan.upscale2x(lower(z)), atol=1e-6)
        full.config.alpha = 0.0
        assert not torch.allclose(full(z), progan.upscale2x(lower(z)), atol=1e-2)


@needs("pgan-zoo")
def test_progan_refuses_what_it_cannot_reproduce(tmp_path):
    with pytest.raises(CheckpointError, match="does not take the option"):
        import_model(PGAN, tmp_path / "x", truncation=0.5)
    with pytest.raises(CheckpointError, match="dcgan-zoo.*not a zoo DCGAN generator|does not look like a dcgan-zoo"):
        import_model(PGAN, tmp_path / "x", format="dcgan-zoo")
    assert not (tmp_path / "x").exists()


@needs("pgan-zoo")
def test_progan_legacy_torch_format_is_detected_and_imported(tmp_path, monkeypatch):
    """The zoo's published checkpoints (2019) use torch's pre-1.6 format: re-save the fixture that way (with a
    local class standing in for the zoo's BaseConfig at its module path) and import it."""
    import sys
    import types

    from ganlab.importers import _zoo

    ck = _zoo._torchfile.load(PGAN, "pgan", stand_ins={_zoo.CONFIG_CLASS: _zoo.ZooConfig})
    cls = type("BaseConfig", (), {"__module__": "models.utils.config"})
    for name in ("models", "models.utils", "models.utils.config"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["models.utils.config"].BaseConfig = cls
    cfg = cls()
    cfg.__dict__.update(vars(ck["config"]))
    legacy = tmp_path / "legacy.pth"
    torch.save({**ck, "config": cfg}, legacy, _use_new_zipfile_serialization=False)
    assert detect(legacy) == "progan"
    e = expected("pgan-zoo")
    m = ganlab.load(str(import_model(legacy, tmp_path / "out")))
    with torch.no_grad():
        check("progan", "img_test_netG (legacy torch format)", m.generate(e["noise"]), e["img_test_netG"])


@needs("pgan-zoo")
def test_cli_import_with_avg(tmp_path, capsys):
    from ganlab import cli

    e = expected("pgan-zoo")
    assert cli.main(["import", str(PGAN), "--out", str(tmp_path / "avg"), "--avg"]) == 0
    assert "wrote" in capsys.readouterr().out
    m = ganlab.load(str(tmp_path / "avg"))
    assert m.info["source"]["upstream"]["generator"] == "avgG"
    with torch.no_grad():
        check("progan", "img_avgG_checkpoint (CLI --avg)", m.generate(e["noise"]), e["img_avgG_checkpoint"])


@needs("pgan-zoo")
def test_dataset_and_licence_labels_reach_the_checkpoint(tmp_path):
    m = ganlab.load(str(import_model(PGAN, tmp_path / "p", dataset="celebA-HQ", licence="CC BY-NC 4.0")))
    assert m.info["dataset"] == "celebA-HQ" and m.info["source"]["licence"] == "CC BY-NC 4.0"
    assert "non-commercial" in (tmp_path / "p" / "README.md").read_text()
