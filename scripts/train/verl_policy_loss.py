"""Reference for arpo-train's policy loss: verl's `compute_policy_loss` (vanilla PPO with dual
clip) and `agg_loss`, rewritten in PyTorch from verl 0.4 `verl/trainer/ppo/core_algos.py`
(and `verl_F.masked_mean`), plus verl `kl_penalty` (k1, low_var_kl/k3) added as dp_actor does
(`policy_loss = pg_loss + kl_loss * kl_loss_coef`).

Draws random inputs with a fixed seed, computes the loss, its gradient w.r.t. `log_prob` and
verl's statistics for several settings, and writes them as a JSON fixture that
crates/arpo-train/tests/loss_reference.rs compares against (tolerance 1e-5).

Run: /work/pyref/bin/python scripts/train/verl_policy_loss.py \
       crates/arpo-train/tests/fixtures/verl_policy_loss.json
"""

import json
import sys

import torch


def masked_mean(values, mask, axis=None):
    # verl.utils.torch_functional.masked_mean
    return (values * mask).sum(axis=axis) / (mask.sum(axis=axis) + 1e-8)


def agg_loss(loss_mat, loss_mask, loss_agg_mode):
    if loss_agg_mode == "token-mean":
        return masked_mean(loss_mat, loss_mask)
    if loss_agg_mode == "seq-mean-token-sum":
        seq_losses = torch.sum(loss_mat * loss_mask, dim=-1)
        return torch.mean(seq_losses)
    if loss_agg_mode == "seq-mean-token-mean":
        seq_losses = torch.sum(loss_mat * loss_mask, dim=-1) / torch.sum(loss_mask, dim=-1)
        return torch.mean(seq_losses)
    raise ValueError(loss_agg_mode)


def compute_policy_loss(old_log_prob, log_prob, advantages, response_mask, cliprange_low, cliprange_high,
                        clip_ratio_c, loss_agg_mode):
    assert clip_ratio_c > 1.0
    negative_approx_kl = log_prob - old_log_prob
    negative_approx_kl = torch.clamp(negative_approx_kl, min=-20.0, max=20.0)
    ratio = torch.exp(negative_approx_kl)
    ppo_kl = masked_mean(-negative_approx_kl, response_mask)

    pg_losses1 = -advantages * ratio
    pg_losses2 = -advantages * torch.clamp(ratio, 1 - cliprange_low, 1 + cliprange_high)
    clip_pg_losses1 = torch.maximum(pg_losses1, pg_losses2)
    pg_clipfrac = masked_mean(torch.gt(pg_losses2, pg_losses1).float(), response_mask)

    pg_losses3 = -advantages * clip_ratio_c
    clip_pg_losses2 = torch.min(pg_losses3, clip_pg_losses1)
    pg_clipfrac_lower = masked_mean(torch.gt(clip_pg_losses1, pg_losses3) * (advantages < 0).float(), response_mask)

    pg_losses = torch.where(advantages < 0, clip_pg_losses2, clip_pg_losses1)
    pg_loss = agg_loss(pg_losses, response_mask, loss_agg_mode)
    return pg_loss, pg_clipfrac, ppo_kl, pg_clipfrac_lower


def kl_penalty(logprob, ref_logprob, kind):
    if kind == "k1":
        return logprob - ref_logprob
    if kind == "k3":
        kl = torch.clamp(ref_logprob - logprob, min=-20, max=20)
        ratio = torch.exp(kl)
        return torch.clamp(ratio - kl - 1, min=-10, max=10)
    raise ValueError(kind)


def main(out_path):
    g = torch.Generator().manual_seed(20240605)
    rows, width = 5, 16
    old = -torch.rand(rows, width, generator=g) * 3.0 - 0.05
    # Wide ratio spread: some tokens inside the clip range, some clipped, some past the dual clip c = 3.
    log_prob = old + torch.randn(rows, width, generator=g) * 1.2
    ref = old + torch.randn(rows, width, generator=g) * 0.3
    adv = torch.randn(rows, width, generator=g)
    lengths = [16, 9, 12, 3, 7]
    mask = torch.zeros(rows, width)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1.0

    cases = []
    settings = [
        ("token-mean", 0.2, 0.2, 3.0, None),
        ("seq-mean-token-mean", 0.2, 0.2, 3.0, None),
        ("seq-mean-token-sum", 0.2, 0.2, 3.0, None),
        ("token-mean", 0.2, 0.28, 3.0, None),
        ("seq-mean-token-mean", 0.2, 0.28, 2.5, None),
        ("token-mean", 0.2, 0.2, 3.0, {"coef": 0.1, "type": "k3"}),
        ("seq-mean-token-mean", 0.2, 0.2, 3.0, {"coef": 0.05, "type": "k1"}),
    ]
    for agg, low, high, c, kl in settings:
        lp = log_prob.clone().requires_grad_(True)
        pg_loss, clipfrac, ppo_kl, clipfrac_lower = compute_policy_loss(old, lp, adv, mask, low, high, c, agg)
        loss = pg_loss
        kl_loss = None
        if kl is not None:
            kl_term = agg_loss(kl_penalty(lp, ref, kl["type"]), mask, agg)
            kl_loss = kl_term.item()
            loss = pg_loss + kl_term * kl["coef"]
        loss.backward()
        cases.append({
            "agg": agg, "clip_low": low, "clip_high": high, "clip_ratio_c": c, "kl": kl,
            "loss": loss.item(), "pg_loss": pg_loss.item(), "kl_loss": kl_loss,
            "pg_clipfrac": clipfrac.item(), "ppo_kl": ppo_kl.item(), "pg_clipfrac_lower": clipfrac_lower.item(),
            "grad": lp.grad.tolist(),
        })
    fixture = {
        "source": "scripts/train/verl_policy_loss.py (verl 0.4 compute_policy_loss / agg_loss / kl_penalty in PyTorch "
                  + torch.__version__ + ")",
        "rows": rows, "width": width,
        "old_log_prob": old.tolist(), "log_prob": log_prob.tolist(), "ref_log_prob": ref.tolist(),
        "advantages": adv.tolist(), "response_mask": mask.tolist(),
        "cases": cases,
    }
    with open(out_path, "w") as f:
        json.dump(fixture, f, indent=1)
    counts = [(c["agg"], c["pg_clipfrac"], c["pg_clipfrac_lower"]) for c in cases]
    print("wrote", out_path, counts)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "crates/arpo-train/tests/fixtures/verl_policy_loss.json")
