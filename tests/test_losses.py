"""Each retrieval loss checked for its defining property (hand-computed values, zeros, gradient direction)."""
import math

import pytest
import torch
import torch.nn.functional as F

from esmr_core.retrieval.losses import (LossConfig, Objective, distillation_targets, emosim_loss, info_nce_loss,
                              kl_similarity_loss, soft_cross_entropy, triplet_loss)


def unit(*rows):
    return F.normalize(torch.tensor(rows, dtype=torch.float32), dim=1)


def test_triplet_zero_when_margin_satisfied():
    a = unit([1, 0])
    p = unit([1, 0])  # cos 1
    cand = unit([0, 1], [-1, 0])  # cos 0 and -1: both at least 0.4 farther than the positive
    for hardest in (False, True):
        out = triplet_loss(a, p, cand, torch.tensor([[True, True]]), margin=0.4, hardest=hardest)
        assert out["triplet_hard_loss" if hardest else "triplet_loss"].item() == 0.0


def test_triplet_hand_computed_hardest():
    a = unit([1, 0])
    p = unit([1, 1])  # cos = 0.7071
    cand = unit([1, 0.2], [0, 1], [1, 0])  # cos 0.9806, 0, 1 (last is masked out: same label)
    mask = torch.tensor([[True, True, False]])
    out = triplet_loss(a, p, cand, mask, margin=0.4, hardest=True)["triplet_hard_loss"]
    expected = 1 / math.sqrt(1.04) - 1 / math.sqrt(2) + 0.4
    assert out.item() == pytest.approx(expected, abs=1e-5)


def test_triplet_sampling_prefers_similar_negatives():
    # (cos + 1) / 2 weights: cos 0.9 -> 0.95, cos -0.9 -> 0.05: the hard one is drawn ~95% of the time
    a = unit([1, 0])
    p = unit([1, 0])
    hard, easy = unit([0.9, math.sqrt(1 - 0.81)]), unit([-0.9, math.sqrt(1 - 0.81)])
    cand = torch.cat([hard, easy])
    gen = torch.Generator().manual_seed(0)
    losses = [triplet_loss(a, p, cand, torch.tensor([[True, True]]), 0.4, False, gen)["triplet_loss"].item()
              for _ in range(400)]
    frac_hard = sum(v > 0.2 for v in losses) / len(losses)  # hard: 0.9-1+0.4=0.3, easy: relu(-1.5)=0
    assert 0.88 < frac_hard < 0.99


def test_triplet_gradient_pulls_positive_pushes_negative():
    a = unit([1, 0.5]).requires_grad_(True)
    p = unit([0.6, 1])
    n = unit([1, 0.3])
    loss = triplet_loss(a, p, n, torch.tensor([[True]]), 0.4, hardest=True)["triplet_hard_loss"]
    loss.backward()
    step = a.detach() - 0.1 * a.grad
    assert F.cosine_similarity(step, p).item() > F.cosine_similarity(a.detach(), p).item()
    assert F.cosine_similarity(step, n).item() < F.cosine_similarity(a.detach(), n).item()


def test_triplet_skips_anchors_without_negatives():
    a = unit([1, 0], [0, 1])
    out = triplet_loss(a, a, a, torch.tensor([[False, False], [True, False]]), 0.4, True)["triplet_hard_loss"]
    # only row 1 counts: its negative is a[0] (cos 0), positive cos 1 -> relu(0 - 1 + 0.4) = 0
    assert out.item() == 0.0


def test_emosim_zero_when_cosine_equals_label_similarity():
    sy = torch.rand(4, 6)
    assert emosim_loss(sy.clone(), sy)["emosim_loss"].item() == pytest.approx(0.0, abs=1e-12)


def test_emosim_picks_one_column_per_unique_value():
    # row values {0.2, 0.9}: two picks per row; S_z = S_y + [0 at 0.2-columns, 1 at 0.9-columns]
    sy = torch.tensor([[0.2, 0.9, 0.2, 0.9]])
    sz = sy + torch.tensor([[0.0, 1.0, 0.0, 1.0]])
    gen = torch.Generator().manual_seed(1)
    for _ in range(10):  # whatever columns are drawn: one error 0, one error 1 -> MSE 0.5
        assert emosim_loss(sz, sy, gen)["emosim_loss"].item() == pytest.approx(0.5)


def test_emosim_draws_random_columns():
    sy = torch.tensor([[0.5, 0.5, 0.5, 0.5]])
    sz = torch.tensor([[0.5, 1.5, 2.5, 3.5]])  # errors 0, 1, 2, 3
    gen = torch.Generator().manual_seed(0)
    seen = {round(emosim_loss(sz, sy, gen)["emosim_loss"].item()) for _ in range(60)}
    assert seen == {0, 1, 4, 9}


def test_infonce_single_positive_equals_cross_entropy():
    torch.manual_seed(0)
    s, m = F.normalize(torch.randn(5, 8), dim=1), F.normalize(torch.randn(5, 8), dim=1)
    eye = torch.eye(5, dtype=torch.bool)
    got = info_nce_loss(s, m, eye, temperature=0.1)["infonce_loss"]
    tgt = torch.arange(5)
    want = (F.cross_entropy(s @ m.T / 0.1, tgt) + F.cross_entropy(m @ s.T / 0.1, tgt)) / 2
    assert got.item() == pytest.approx(want.item(), rel=1e-5)


def test_infonce_multi_positive_hand_computed():
    s = unit([1, 0])
    m = unit([1, 0], [0, 1])
    pos = torch.tensor([[True, True]])
    # s->m: -(log p0 + log p1)/2 with logits (10, 0); m->s: each music row has a single speech -> 0
    logp = torch.log_softmax(torch.tensor([10.0, 0.0]), 0)
    want = (-(logp.sum() / 2)) / 2
    assert info_nce_loss(s, m, pos, 0.1)["infonce_loss"].item() == pytest.approx(want.item(), rel=1e-5)


def test_infonce_queue_negatives_raise_the_loss():
    s, m = unit([1, 0], [0, 1]), unit([1, 0], [0, 1])
    eye = torch.eye(2, dtype=torch.bool)
    base = info_nce_loss(s, m, eye, 0.5)["infonce_loss"]
    queue = unit([1, 0.1], [0.1, 1])
    with_q = info_nce_loss(s, m, eye, 0.5, queue, torch.zeros(2, 2, dtype=torch.bool))["infonce_loss"]
    assert with_q.item() > base.item()


def test_kl_zero_when_distributions_match_and_positive_otherwise():
    sy = torch.rand(3, 5)
    assert kl_similarity_loss(sy + 0.3, sy, t1=0.1, t2=0.1)["kl_loss"].item() == pytest.approx(0.0, abs=1e-6)
    assert kl_similarity_loss(sy * 2.0, sy, t1=0.1, t2=0.2)["kl_loss"].item() == pytest.approx(0.0, abs=1e-6)
    assert kl_similarity_loss(-sy, sy)["kl_loss"].item() > 0.01


def test_distillation_targets_formula():
    sim_m = torch.tensor([[1.0, 0.0, -1.0]])
    hard = torch.tensor([[1.0, 1.0, 0.0]])
    got = distillation_targets(sim_m, hard, alpha=0.4, temperature=0.5)
    want = 0.4 * torch.softmax(sim_m / 0.5, 1) + 0.6 * torch.tensor([[0.5, 0.5, 0.0]])
    assert torch.allclose(got, want)
    assert got.sum().item() == pytest.approx(1.0)
    assert distillation_targets(sim_m, hard, alpha=0.0).tolist() == [[0.5, 0.5, 0.0]]


def test_soft_cross_entropy_skips_rows_without_targets():
    logits = torch.tensor([[2.0, 0.0], [0.0, 5.0]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    assert soft_cross_entropy(logits, targets).item() == pytest.approx(
        F.cross_entropy(logits[:1], torch.tensor([0])).item())


def test_objective_sums_weighted_terms():
    torch.manual_seed(0)
    s, m = F.normalize(torch.randn(6, 4), dim=1), F.normalize(torch.randn(6, 4), dim=1)
    pos = torch.eye(6, dtype=torch.bool)
    out = {"speech": s, "music": m, "pos_mask": pos, "label_sim": torch.rand(6, 6)}
    obj = Objective(LossConfig(weights={"infonce": 2.0, "kl": 0.5}))
    terms = obj(out)
    assert set(terms) == {"infonce_loss", "kl_loss", "loss"}
    assert terms["loss"].item() == pytest.approx(2 * terms["infonce_loss"].item() + 0.5 * terms["kl_loss"].item())
    with pytest.raises(ValueError, match="unknown loss terms"):
        LossConfig(weights={"tripplet": 1.0})
