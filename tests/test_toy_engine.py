"""The toy engine (ganlab.toy): losses, numpy nets and optimizers against torch, metrics, the settings table,
training, data parsing and the torch export."""
import json
import zipfile

import numpy as np
import pytest
import torch

from ganlab import toy
from ganlab.toy import ToyTrainer, curves, data, default_config, lecture_config, losses, metrics, optim, trainer
from ganlab.toy.render import render_frame
from ganlab.toy.torch_export import Discriminator, Generator, export_modules, from_pretrained

S_REAL = np.array([2.0, -0.5, 0.3, 4.0], np.float64)
S_FAKE = np.array([-1.0, 0.7, -3.0], np.float64)


def _loss_formulas(name, sr, sf, t):
    """The losses written as in the papers, in torch, on D's score s (D(x) = σ(s) for the BCE losses)."""
    if name in ("non-saturating", "minimax"):
        d = -(t * torch.log(torch.sigmoid(sr)) + (1 - t) * torch.log(1 - torch.sigmoid(sr))).mean() \
            - torch.log(1 - torch.sigmoid(sf)).mean()
        g = -torch.log(torch.sigmoid(sf)).mean() if name == "non-saturating" \
            else torch.log(1 - torch.sigmoid(sf)).mean()
    elif name == "lsgan":
        d = 0.5 * ((sr - t) ** 2).mean() + 0.5 * (sf ** 2).mean()
        g = 0.5 * ((sf - 1) ** 2).mean()
    elif name == "wgan-gp":
        d, g = sf.mean() - sr.mean(), -sf.mean()
    else:  # hinge
        d, g = torch.relu(1 - sr).mean() + torch.relu(1 + sf).mean(), -sf.mean()
    return d, g


@pytest.mark.parametrize("name", toy.LOSSES)
@pytest.mark.parametrize("target", [1.0, 0.9])
def test_each_loss_matches_its_formula(name, target):
    sr = torch.tensor(S_REAL, requires_grad=True)
    sf = torch.tensor(S_FAKE, requires_grad=True)
    d_ref, g_ref = _loss_formulas(name, sr, sf, target)
    d_val, d_gr, d_gf = losses.discriminator_loss(name, S_REAL, S_FAKE, target)
    gr_ref, gf_ref = torch.autograd.grad(d_ref, (sr, sf))
    assert d_val == pytest.approx(d_ref.item(), rel=1e-9)
    np.testing.assert_allclose(d_gr, gr_ref.numpy(), atol=1e-12)
    np.testing.assert_allclose(d_gf, gf_ref.numpy(), atol=1e-12)
    g_val, g_gf = losses.generator_loss(name, S_FAKE)
    assert g_val == pytest.approx(g_ref.item(), rel=1e-9)
    np.testing.assert_allclose(g_gf, torch.autograd.grad(g_ref, sf)[0].numpy(), atol=1e-12)


def test_bce_is_stable_for_large_scores():
    value, g_real, g_fake = losses.discriminator_loss("non-saturating", np.array([-200.0]), np.array([200.0]))
    assert np.isfinite(value) and value == pytest.approx(400.0)
    assert np.all(np.isfinite(g_real)) and np.all(np.isfinite(g_fake))


def test_nearest_point_loss():
    real = np.array([[0.0, 0.0], [1.0, 1.0]])
    points = np.array([[0.1, 0.0], [0.9, 1.2]])
    value, grad = losses.nearest_point_loss(points, real)
    assert value == pytest.approx((0.01 + 0.01 + 0.04) / 2)
    np.testing.assert_allclose(grad, 2 * (points - real) / 2)


# -- the metric ---------------------------------------------------------------------------------------------

def test_js_is_zero_for_identical_and_one_for_disjoint():
    p = np.array([5, 0, 3, 2, 0])
    assert metrics.js_divergence_bits(p, p) == pytest.approx(0.0, abs=1e-12)
    assert metrics.js_divergence_bits(p, 7 * p) == pytest.approx(0.0, abs=1e-12)  # counts, not probabilities
    assert metrics.js_divergence_bits([1, 2, 0, 0], [0, 0, 3, 1]) == pytest.approx(1.0)
    assert 0 < metrics.js_divergence_bits([1, 1, 0], [0, 1, 1]) < 1


def test_grid_counts_every_real_sample_and_fakes_outside():
    for dataset in ("parabola", "8gaussians", "moons"):
        t = ToyTrainer(lecture_config(dataset=dataset, seed=1))
        assert t.reference_hist.sum() == trainer.N_REFERENCE
        assert t.reference_hist[-1] == 0  # no real sample falls outside the grid
        assert len(t.reference_hist) == metrics.GRID_BINS ** 2 + 1
    # the extremes fall in the edge bins, points beyond them in the outside bin
    lo, hi = np.array([0.0, 0.0]), np.array([1.0, 1.0])
    counts = metrics.grid_histogram(np.array([[0, 0], [1, 1], [1, 0], [1.5, 0.5], [-0.1, 0.2]]), lo, hi, bins=30)
    assert counts.sum() == 5 and counts[-1] == 2
    assert counts[0] == 1 and counts[29 * 30 + 29] == 1 and counts[29] == 1
    # a generator that piles all its points outside the data's box is maximally far
    real = metrics.grid_histogram(np.random.default_rng(0).uniform(0, 1, (1000, 2)), lo, hi)
    outside = metrics.grid_histogram(np.full((100, 2), 3.0), lo, hi)
    assert metrics.js_divergence_bits(real, outside) == pytest.approx(1.0)


def test_sliced_wasserstein():
    a = np.random.default_rng(0).standard_normal((500, 2))
    assert metrics.sliced_wasserstein(a, a) == 0
    assert metrics.sliced_wasserstein(a, a + [1.0, 0.0]) == pytest.approx(2 / np.pi, rel=0.05)  # mean |cos θ|


# -- numpy nets vs autograd -----------------------------------------------------------------------------------

def _flat_grads(module):
    """A module's gradients in the numpy nets' flat layout: per layer W (n_in, n_out) row-major, then b."""
    grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in module.parameters()]
    return torch.cat([g.T.reshape(-1) if g.ndim == 2 else g for g in grads]).numpy()


def _small(**kw):
    """The lecture's settings with tiny nets."""
    return lecture_config(**({"z_dim": 3, "g_width": 7, "d_width": 6} | kw))


@pytest.mark.parametrize("loss,activation", [("non-saturating", "relu"), ("minimax", "leakyrelu"),
                                             ("lsgan", "elu"), ("hinge", "tanh"), ("wgan-gp", "softplus")])
def test_gradients_match_autograd(loss, activation):
    cfg = _small(g_activation=activation, d_activation=activation, loss=loss, gp_weight=0.0, label_smoothing=0.1)
    t = ToyTrainer(cfg)
    rng = np.random.default_rng(1)
    real = rng.standard_normal((5, 2)).astype(np.float32)
    z = rng.standard_normal((5, 3)).astype(np.float32)
    fake, g_cache = t.G.forward(z)
    t.discriminator_gradients(real, fake)
    t.generator_gradients(fake, g_cache)
    G, D = export_modules(t)
    np.testing.assert_allclose(G(torch.from_numpy(z)).detach().numpy(), fake, rtol=1e-5, atol=1e-6)
    target = 1 - cfg.label_smoothing

    s_real, s_fake = D.logits(torch.from_numpy(real))[:, 0], D.logits(torch.from_numpy(fake))[:, 0]
    d_loss, _ = _loss_formulas(loss, s_real.double(), s_fake.double(), target)
    d_loss.backward()
    np.testing.assert_allclose(t.D.grads, _flat_grads(D), rtol=1e-4, atol=1e-6)

    D.zero_grad()
    _, g_loss = _loss_formulas(loss, s_real.double(), D.logits(G(torch.from_numpy(z)))[:, 0].double(), target)
    g_loss.backward()
    np.testing.assert_allclose(t.G.grads, _flat_grads(G), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("activation,depth", [("relu", 2), ("tanh", 2), ("elu", 3), ("softplus", 1),
                                              ("leakyrelu", 0)])
def test_gradient_penalty_matches_double_backward(activation, depth):
    t = ToyTrainer(_small(loss="wgan-gp", d_activation=activation, d_depth=depth, seed=2))
    x = np.random.default_rng(3).standard_normal((6, 2)).astype(np.float32)
    penalty, grads = t.D.input_gradient_penalty(x, 10.0)
    _, D = export_modules(t)
    xt = torch.from_numpy(x).requires_grad_(True)
    (gx,) = torch.autograd.grad(D.logits(xt).sum(), xt, create_graph=True)
    ref = 10.0 * ((gx.norm(dim=1) - 1) ** 2).mean()
    ref.backward()
    assert penalty == pytest.approx(ref.item(), rel=1e-4)
    np.testing.assert_allclose(grads, _flat_grads(D), rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("kind", toy.OPTIMIZERS)
def test_flat_optimizers_match_torch(kind):
    rng = np.random.default_rng(0)
    params = rng.standard_normal(20).astype(np.float32)
    theta = torch.tensor(params.copy(), requires_grad=True)
    ref = {"adam": lambda: torch.optim.Adam([theta], lr=0.01, betas=(0.5, 0.99)),
           "sgd": lambda: torch.optim.SGD([theta], lr=0.01, momentum=0.5),
           "rmsprop": lambda: torch.optim.RMSprop([theta], lr=0.01, alpha=0.99)}[kind]()
    opt = optim.FlatOptimizer(kind, len(params))
    for _ in range(4):
        grads = rng.standard_normal(20).astype(np.float32)
        opt.step(params, grads, 0.01, 0.5, 0.99)
        theta.grad = torch.from_numpy(grads.copy())
        ref.step()
    np.testing.assert_allclose(params, theta.detach().numpy(), rtol=1e-5, atol=1e-6)


# -- training -------------------------------------------------------------------------------------------------

def test_short_run_on_the_parabola_lowers_the_distance():
    t = ToyTrainer(default_config())
    before = t.metrics()
    t.step(1500)
    after = t.metrics()
    assert after["sw"] < 0.5 * before["sw"]
    assert after["js"] < before["js"] - 0.2


def test_same_seed_same_run_and_sampling_does_not_change_it():
    a, b = ToyTrainer(lecture_config(seed=3)), ToyTrainer(lecture_config(seed=3))
    a.step(30)
    a.sample(10)  # sampling has its own RNG
    b.step(30)
    np.testing.assert_array_equal(a.G.params, b.G.params)
    b.sample(10)
    np.testing.assert_array_equal(a.sample(8), b.sample(8))
    c = ToyTrainer(lecture_config(seed=4))
    c.step(30)
    assert not np.array_equal(a.G.params, c.G.params)


def test_global_rng_untouched():
    np.random.seed(123)
    torch.manual_seed(123)
    expected_np, expected_torch = np.random.rand(), torch.rand(1)
    np.random.seed(123)
    torch.manual_seed(123)
    ToyTrainer(lecture_config()).step(5)
    assert np.random.rand() == expected_np and torch.equal(torch.rand(1), expected_torch)


def test_every_option_trains_and_renders():
    for dataset in toy.DATASETS[:-1]:
        t = ToyTrainer(_small(dataset=dataset, loss="wgan-gp", optimizer="rmsprop", d_steps=2, top_k=0.5,
                              top_k_anneal_steps=10, ema_decay=0.9, naive=True, latent_dist="uniform", z_dim=1))
        t.step(20)
        m = t.metrics()
        assert all(np.isfinite([m["js"], m["sw"], m["naive_js"]]))
        frame = render_frame(t)
        assert frame.shape == (400, 760, 3) and frame.dtype == np.uint8
        assert t.sample(5).shape == (5, 2)
        assert t.top_k_count(64) == 32


def test_live_update_and_what_needs_a_reset():
    t = ToyTrainer(lecture_config())
    t.step(5)
    t.update(lr_g=1e-3, loss="hinge", d_steps=3, batch=16, ema_decay=0.9, naive=True)
    assert t.head == "linear" and t.ema is not None and t.naive_G is not None
    t.step(5)
    assert t.iteration == 10
    with pytest.raises(ValueError, match="reset"):
        t.update(z_dim=2)
    with pytest.raises(ValueError, match="lr_d"):
        t.update(lr_d=-1.0)
    with pytest.raises(ValueError, match="loss"):
        lecture_config(loss="wasserstein")


def test_curve_log_keeps_bounded_memory():
    log = curves.CurveLog(("a",), capacity=16)
    for i in range(10):
        log.extend(np.arange(i * 10, i * 10 + 10)[:, None], (i + 1) * 10)
    x, y = log.series("a")
    assert log.n <= 16 and x[-1] <= 100 and np.all(np.diff(x) > 0)
    assert y[0] == pytest.approx(np.mean(np.arange(log.stride)))


def test_checkpoint_round_trip(tmp_path):
    t = ToyTrainer(default_config())
    t.step(20)
    path = t.save_checkpoint(tmp_path / "toy.zip")
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["toy2d/config.json", "toy2d/model.safetensors"]
        zf.extractall(tmp_path)
    G, D, meta = from_pretrained(tmp_path / "toy2d")
    assert meta["training"]["iterations"] == 20 and meta["config"]["z_dim"] == 2
    z = t.eval_z[:16]
    np.testing.assert_allclose(G(torch.from_numpy(z)).detach().numpy(), t.generate(z), rtol=1e-5, atol=1e-6)
    x = t.reference[:16]
    np.testing.assert_allclose(D(torch.from_numpy(x))[:, 0].detach().numpy(), t.discriminator_scores(x),
                               rtol=1e-5, atol=1e-6)
    assert isinstance(G, Generator) and isinstance(D, Discriminator)
    # a checkpoint exported before the renames (latent_dim, noise) still loads, with a note
    config = json.loads((tmp_path / "toy2d" / "config.json").read_text())
    net = config["config"]
    net["latent_dim"], net["noise"] = net.pop("z_dim"), net.pop("latent_dist")
    (tmp_path / "toy2d" / "config.json").write_text(json.dumps(config))
    with pytest.warns(FutureWarning, match="'latent_dim' is now called 'z_dim'"):
        old, _, _ = from_pretrained(tmp_path / "toy2d")
    assert old.config == G.config and torch.equal(old(torch.from_numpy(z)), G(torch.from_numpy(z)))


# -- user data -------------------------------------------------------------------------------------------------

def test_csv_points_are_parsed_and_validated(tmp_path):
    rows = "\n".join(f"{i * 0.1},{(i * 0.1) ** 2}" for i in range(20))
    points = toy.points_from_csv("x,y\n" + rows + "\n")
    assert points.shape == (20, 2)
    assert toy.points_from_csv(rows.replace(",", ";").encode()).shape == (20, 2)
    path = tmp_path / "p.csv"
    path.write_text(rows)
    assert toy.points_from_csv(path).shape == (20, 2)
    bad = {
        rows + "\n1,2,3": "line 21: expected 2 columns",
        rows + "\n1,abc": "line 21: 'abc' is not a number",
        rows + "\nnan,1": "not a finite number",
        "1,2\n3,4": "at least 10",
        "\n".join(f"{i},{i}" for i in range(data.MAX_POINTS + 1)): "at most|more than",
        "\n".join("1,1" for _ in range(12)): "identical",
    }
    for text, message in bad.items():
        with pytest.raises(ValueError, match=message):
            toy.points_from_csv(text)
    with pytest.raises(ValueError, match="bytes"):
        toy.points_from_csv(b"1,2\n" * (data.MAX_CSV_BYTES // 4 + 1))
    with pytest.raises(ValueError, match="UTF-8"):
        toy.points_from_csv(b"\xff\xfe1,2\n")


def test_strokes_to_points_and_training_on_them():
    for empty in ("", "[]", [[]], [[[5, 5]]]):
        with pytest.raises(ValueError, match="empty"):
            toy.points_from_strokes(empty)
    points = toy.points_from_strokes(json.dumps([[[0, 200], [400, 200]]]))   # one horizontal stroke, 400 px
    assert points.shape == (201, 2) and np.allclose(points[:, 1], 0) and points[0, 0] == -1 and points[-1, 0] == 1
    dots = toy.points_from_strokes([[[100 + 10 * i, 50]] for i in range(12)])  # separate clicks: one point each
    assert dots.shape == (12, 2) and np.allclose(dots[:, 1], 0.75)
    assert len(toy.points_from_strokes([[[0, 0], [400, 400]]] * 20, max_points=500)) == 500
    for bad, message in (("{}", "list of strokes"), ("[1, 2]", "list of strokes"), ("not json", "list of strokes"),
                         ([[["a", 1]]], "\\[x, y\\]"), ([[[0, 0], [900, 0]]], "leaves"),
                         ([[[0, 0], [float("nan"), 0]]], "leaves"), ({"composite": None}, "list of strokes")):
        with pytest.raises(ValueError, match=message):
            toy.points_from_strokes(bad)
    t = ToyTrainer(lecture_config(dataset="points"), points=points)
    t.step(10)
    assert t.reference_hist[-1] == 0 and np.abs(t.points).max() <= 1 + 1e-6
    with pytest.raises(ValueError, match="points"):
        ToyTrainer(lecture_config(dataset="points"))


def test_the_naive_generator_is_drawn_on_top_and_visible():
    """Where the naive G's points fall on the GAN's (a healthy run: both on the data), they still show."""
    from ganlab.toy import render
    from ganlab.toy.trainer import Plane

    fake = np.random.default_rng(0).uniform(-0.5, 0.5, (300, 2))
    plane = Plane(iteration=1, view=(-1, 1, -1, 1), probability=True, real=fake, fake=fake, naive=fake[:100])
    pixels = np.asarray(render.render_plane(plane, 200)).reshape(-1, 3)
    assert (pixels == render.NAIVE_RGB).all(1).sum() >= 100 * 9 // 4    # orange cores, even where they overlap
    assert (pixels == render.NAIVE_EDGE_RGB).all(1).any() and (pixels == render.FAKE_RGB).all(1).any()
