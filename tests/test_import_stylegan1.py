"""Exactness of the StyleGAN v1 (lecture port) importer against the port's own outputs; truncation, noise and
style-mixing contract; configurations it refuses."""
import pytest
import torch

import ganlab
from ganlab.importers import detect, import_model
from ganlab.models import CheckpointError, stylegan1

from .importer_fixtures import FIXTURES, check, expected, needs

WEIGHTS = FIXTURES / "stylegan1-lernapparat" / "weights.pt"


def fixture_noise(e):
    """The stored per-layer noise, in the port's layer order (the names carry the index)."""
    return [e[k] for k in sorted(k for k in e if k.startswith("noise/"))]


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    if not WEIGHTS.is_file():
        pytest.skip(f"no upstream fixtures in {WEIGHTS.parent}")
    return import_model(WEIGHTS, tmp_path_factory.mktemp("sg1") / "stylegan1")


@needs("stylegan1-lernapparat")
def test_stylegan1_matches_the_lecture_port(imported):
    e = expected("stylegan1-lernapparat")
    noise = fixture_noise(e)
    assert detect(WEIGHTS) == "stylegan1" and len(noise) == 8
    m = ganlab.load(str(imported))
    assert (m.family, m.image_size, m.channels, m.num_ws, m.w_dim) == ("stylegan1", 32, 3, 18, 64)
    assert m.style_based and "const" in m.noise_modes
    with torch.no_grad():
        ws = m.mapping(e["z"])
        check("stylegan1", "dlatents", ws, e["dlatents"], clamp=False)
        check("stylegan1", "img_notrunc", m.synthesis(ws, noise=noise), e["img_notrunc"])
        check("stylegan1", "img_notrunc (raw, unclamped)", m.synthesize(ws, noise=noise), e["img_notrunc"],
              clamp=False)
        m.w_avg = e["trunc_avg_latent"].clone()                    # settable truncation centre
        wt = m.mapping(e["z"], truncation=0.7, cutoff=8)
        check("stylegan1", "dlatents_trunc", wt, e["dlatents_trunc"], clamp=False)
        check("stylegan1", "dlatents_trunc (default cutoff 8)", m.mapping(e["z"], truncation=0.7),
              e["dlatents_trunc"], clamp=False)
        check("stylegan1", "img_trunc", m.synthesis(e["dlatents_trunc"], noise=noise), e["img_trunc"])
        mixed = m.style_mix(ws[0:1], ws[1:2], range(4, 18))
        check("stylegan1", "dlatents_mix", mixed, e["dlatents_mix"], clamp=False)
        check("stylegan1", "img_mix", m.synthesis(e["dlatents_mix"], noise=[n[0:1] for n in noise]), e["img_mix"])


@needs("stylegan1-lernapparat")
def test_stylegan1_w_avg_is_estimated_at_import_and_round_trips(imported, tmp_path):
    e = expected("stylegan1-lernapparat")
    m = ganlab.load(str(imported))
    assert "estimated" in m.info["source"]["upstream"]["w_avg"]
    with torch.no_grad():
        fresh = m.map_raw(ganlab.latent.seeded_latents(10000, 64, 0)).mean(0)
    assert torch.allclose(m.w_avg, fresh, atol=1e-5)
    # an independent estimate (4096 other latents, the fixture's) agrees to sampling error
    assert (m.w_avg - e["trunc_avg_latent"]).abs().max() < 0.1 * e["dlatents"].std()
    m.w_avg = e["trunc_avg_latent"].clone()
    ganlab.checkpoint.save(m, tmp_path / "again", source=m.info["source"])
    again = ganlab.load(str(tmp_path / "again"))
    assert torch.equal(again.w_avg, e["trunc_avg_latent"])
    z = again.latents(2, seed=4)
    assert torch.equal(again.generate(z, truncation=0.5), m.generate(z, truncation=0.5))


@needs("stylegan1-lernapparat")
def test_stylegan1_noise_modes_and_generate(imported):
    m = ganlab.load(str(imported))
    z = m.latents(2, seed=1)
    w = m.mapping(z)
    with torch.no_grad():
        const = m.synthesis(w, "const")
        assert torch.equal(const, m.synthesis(w, "const")) and torch.equal(const, m.generate(z))
        assert not torch.equal(m.synthesis(w, "random"), m.synthesis(w, "random"))
        assert not torch.equal(m.synthesis(w, "none"), const)
        zeros = [torch.zeros(1, 1, r, r) for r in (4, 4, 8, 8, 16, 16, 32, 32)]
        assert torch.equal(m.synthesis(w, noise=zeros), m.synthesis(w, "none"))
    with pytest.raises(ValueError, match="noise needs 8 tensors"):
        m.synthesis(w, noise=zeros[:3])
    with pytest.raises(ValueError, match=r"noise\[2\] must have shape"):
        m.synthesis(w, noise=zeros[:2] + [torch.zeros(1, 1, 4, 4)] + zeros[3:])
    with pytest.raises(ValueError, match="noise_mode"):
        m.synthesis(w, "fixed")
    assert m.sample(2, seed=0).shape == (2, 32, 32, 3)
    with torch.no_grad():                                          # in-place fast path without autograd ...
        fast = m.synthesis(w, "const")
    assert torch.equal(fast, m.synthesis(w, "const"))              # ... computes exactly what the autograd path does
    assert m.latent_directions(3)[0] == "w"


def test_fused_up_conv_is_the_nearest_up_conv_with_a_flipped_kernel():
    """The port's fused path (from 128 px) is a stride-2 transposed conv with the 3×3 kernel summed into 4×4:
    the same as nearest upsampling + a conv with the spatially flipped kernel (then the same blur and bias)."""
    torch.manual_seed(0)
    cfg = {"z_dim": 8, "w_dim": 8, "mapping_layers": 2, "block_channels": (8, 8, 4), "image_size": 16}
    fused = stylegan1.Generator({**cfg, "fused_upscale_from": 8})
    plain = stylegan1.Generator({**cfg, "fused_upscale_from": 1024})
    state = fused.state_dict()
    for k in ("blocks.1.conv0.weight", "blocks.2.conv0.weight"):
        state[k] = state[k].flip(2, 3)
    plain.load_state_dict(state)
    assert fused.blocks[1].conv0.fused and not plain.blocks[1].conv0.fused
    w = fused.mapping(torch.randn(3, 8))
    with torch.no_grad():
        assert torch.allclose(fused.synthesize(w, "none"), plain.synthesize(w, "none"), atol=1e-4)


@needs("stylegan1-lernapparat")
def test_stylegan1_refuses_layouts_it_cannot_reproduce(tmp_path):
    sd = torch.load(WEIGHTS, map_location="cpu", weights_only=True)

    def refused(state, match):
        f = tmp_path / "bad.pt"
        torch.save(state, f)
        with pytest.raises(CheckpointError, match=match):
            import_model(f, tmp_path / "out", format="stylegan1")
        assert not (tmp_path / "out").exists()

    refused({k: v for k, v in sd.items() if "8x8.epi2.style_mod" not in k}, "no style input")
    refused({k: v for k, v in sd.items() if k != "g_synthesis.blocks.16x16.conv1.bias"}, "conv1.bias.*missing")
    refused({**sd, "g_synthesis.blocks.4x4.dense.weight": torch.zeros(2, 2)}, "unexpected tensors")
    refused({k: v for k, v in sd.items() if k != "g_synthesis.blocks.8x8.epi1.top_epi.noise.weight"}, "all or none")
    refused({**sd, "g_synthesis.extra.weight": torch.zeros(2)}, "unexpected tensors")
    refused({**sd, "g_synthesis.torgb.bias": torch.full((3,), float("nan"))}, "NaN")
    with pytest.raises(CheckpointError, match=r"does not take the option\(s\) \[.avg.\] \(it takes w_avg_samples, dataset, licence\)"):
        import_model(WEIGHTS, tmp_path / "out", avg=True)


@needs("stylegan1-lernapparat")
def test_stylegan1_legacy_torch_format_is_detected_and_imported(tmp_path):
    """The 2019 port files predate torch's zip format: the same state dict saved the old way imports the same."""
    legacy = tmp_path / "legacy.pt"
    torch.save(torch.load(WEIGHTS, map_location="cpu", weights_only=True), legacy, _use_new_zipfile_serialization=False)
    assert legacy.read_bytes()[:2] == b"\x80\x02" and detect(legacy) == "stylegan1"
    e = expected("stylegan1-lernapparat")
    m = ganlab.load(str(import_model(legacy, tmp_path / "out", w_avg_samples=64)))
    with torch.no_grad():
        check("stylegan1", "img_notrunc (legacy torch format)", m.synthesis(m.mapping(e["z"]), noise=fixture_noise(e)),
              e["img_notrunc"])


@needs("stylegan1-lernapparat")
def test_stylegan1_variants_without_noise_or_constant_input(tmp_path):
    """use_noise=False (no NoiseLayer weights) is the same net as noise_mode "none"; const_input_layer=False (a
    dense 4×4 input from the first dlatent) imports and renders."""
    sd = torch.load(WEIGHTS, map_location="cpu", weights_only=True)
    quiet = tmp_path / "nonoise.pt"
    torch.save({k: v for k, v in sd.items() if ".top_epi.noise." not in k}, quiet)
    m = ganlab.load(str(import_model(WEIGHTS, tmp_path / "a", w_avg_samples=16)))
    q = ganlab.load(str(import_model(quiet, tmp_path / "b", w_avg_samples=16)))
    assert not q.config.use_noise and q.info["source"]["upstream"]["G_synthesis"]["use_noise"] is False
    w = m.mapping(m.latents(2, seed=0))
    with torch.no_grad():
        assert torch.equal(q.synthesis(w, "random"), m.synthesis(w, "none"))
    with pytest.raises(ValueError, match="no noise inputs"):
        q.synthesis(w, noise=[torch.zeros(1, 1, 4, 4)] * 8)
    dense = {k: v for k, v in sd.items() if not k.startswith(("g_synthesis.blocks.4x4.const", "g_synthesis.blocks.4x4.bias"))}
    dense["g_synthesis.blocks.4x4.dense.weight"] = torch.randn(16 * 64, 64)
    dense["g_synthesis.blocks.4x4.dense.bias"] = torch.zeros(16 * 64)
    torch.save(dense, tmp_path / "dense.pt")
    d = ganlab.load(str(import_model(tmp_path / "dense.pt", tmp_path / "c", w_avg_samples=16)))
    assert not d.config.const_input and d.generate(d.latents(2, seed=0)).shape == (2, 3, 32, 32)
