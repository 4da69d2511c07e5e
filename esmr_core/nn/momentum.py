"""The momentum-encoder mechanism of MoCo (He et al., CVPR 2020), shared by the joint model's music tower
and the singing SSCL encoders: an EMA copy of a module and a ring buffer (queue) of its outputs."""
from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def ema_update(target: nn.Module, source: nn.Module, m: float) -> None:
    """theta_target <- m * theta_target + (1 - m) * theta_source; buffers (BatchNorm statistics, the
    standardiser's mean/std) are copied, not averaged."""
    for p_t, p in zip(target.parameters(), source.parameters()):
        p_t.mul_(m).add_(p.detach(), alpha=1.0 - m)
    for b_t, b in zip(target.buffers(), source.buffers()):
        b_t.copy_(b)


def frozen_copy(module: nn.Module) -> nn.Module:
    """A copy of module whose parameters take no gradient (the momentum encoder's starting point)."""
    import copy

    twin = copy.deepcopy(module)
    for p in twin.parameters():
        p.requires_grad_(False)
    return twin


@torch.no_grad()
def enqueue(queue: torch.Tensor, ptr: torch.Tensor, items: torch.Tensor,
            label_queue: torch.Tensor | None = None, labels: torch.Tensor | None = None) -> None:
    """Write items (B, D) into the ring buffer queue (K, D) at ptr (a 0-d long tensor), wrapping around, the
    oldest overwritten first; with label_queue (K,) also their labels (B,). Keeps the last K when B > K."""
    k = queue.shape[0]
    n = min(len(items), k)
    idx = (int(ptr) + torch.arange(n, device=queue.device)) % k
    queue[idx] = items[-n:].detach()
    if label_queue is not None:
        label_queue[idx] = labels[-n:]
    ptr.fill_((int(ptr) + n) % k)
