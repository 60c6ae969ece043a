import pytest
import torch

from ganlab import latent


def test_seeded_latents_are_deterministic_and_leave_global_rng_alone():
    state = torch.get_rng_state()
    a = latent.seeded_latents(4, 8, seed=5)
    b = latent.seeded_latents(4, 8, seed=5)
    assert torch.equal(a, b) and not torch.equal(a, latent.seeded_latents(4, 8, seed=6))
    u = latent.seeded_latents(1000, 4, seed=1, dist="uniform")
    assert u.min() >= -1 and u.max() <= 1
    assert torch.equal(torch.get_rng_state(), state)


def test_seed_latents_one_per_seed():
    z = latent.seed_latents([3, 1], 8)
    assert torch.equal(z[0], latent.seeded_latents(1, 8, 3)[0])
    assert torch.equal(z[1], latent.seeded_latents(1, 8, 1)[0])


@pytest.mark.parametrize("interp", [latent.lerp, latent.slerp])
def test_interpolations_hit_their_endpoints(interp):
    a, b = latent.seeded_latents(2, 16, seed=0)
    t = torch.tensor([0.0, 0.5, 1.0])
    out = interp(a, b, t)
    assert torch.equal(out[0], a) and torch.equal(out[2], b)
    assert out.shape == (3, 16)


def test_slerp_keeps_the_norm_on_the_sphere_and_lerp_shrinks_it():
    a = torch.tensor([1.0, 0.0])
    b = torch.tensor([0.0, 1.0])
    mid = latent.slerp(a, b, 0.5)
    assert torch.allclose(mid.norm(), torch.tensor(1.0))
    assert latent.lerp(a, b, 0.5).norm() < 0.8
    # parallel vectors fall back to lerp
    assert torch.allclose(latent.slerp(a, 2 * a, 0.5), 1.5 * a)


def test_keyframe_path_starts_and_ends_on_keyframes():
    keys = latent.seeded_latents(3, 8, seed=0)
    p = latent.keyframe_path(keys, 9, "slerp")
    assert p.shape == (9, 8)
    assert torch.equal(p[0], keys[0]) and torch.equal(p[4], keys[1]) and torch.equal(p[-1], keys[2])
    loop = latent.keyframe_path(keys, 9, "lerp", loop=True)
    assert torch.equal(loop[0], keys[0]) and torch.equal(loop[3], keys[1]) and torch.equal(loop[6], keys[2])
    assert not torch.equal(loop[-1], keys[0])  # stops one frame short of the start: seamless repeat
    with pytest.raises(ValueError):
        latent.keyframe_path(keys[:1], 5)
    with pytest.raises(ValueError):
        latent.keyframe_path(keys, 5, "cubic")


def test_truncations():
    z = torch.randn(4, 3)
    assert torch.equal(latent.truncate_z(z, 0.0), torch.zeros_like(z))
    w = torch.randn(2, 5, 3)
    avg = torch.randn(3)
    t = latent.truncate_w(w, avg, 0.5, cutoff=2)
    assert torch.allclose(t[:, :2], avg + 0.5 * (w[:, :2] - avg)) and torch.equal(t[:, 2:], w[:, 2:])
    for bad in (float("nan"), float("inf"), 5.0):
        with pytest.raises(ValueError):
            latent.truncate_z(z, bad)
    with pytest.raises(ValueError):
        latent.truncate_w(w, avg, 0.5, cutoff=9)
    r = latent.resample_truncated(500, 4, 1.0, torch.Generator().manual_seed(0))
    assert r.abs().max() <= 1.0


def test_principal_directions_find_the_main_axis():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 3, generator=g) * torch.tensor([5.0, 1.0, 0.1])
    dirs, std = latent.principal_directions(x, 2)
    assert torch.allclose(dirs[0].abs(), torch.tensor([1.0, 0.0, 0.0]), atol=0.02)
    assert 4.5 < std[0] < 5.5


def test_bad_seed():
    with pytest.raises(ValueError):
        latent.rng(-1)
    with pytest.raises(ValueError):
        latent.rng(2**32)
