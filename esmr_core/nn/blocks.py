"""Small building blocks shared by the models."""
from __future__ import annotations

from typing import Sequence

from torch import nn


def conv2d_stack(channels: Sequence[int], in_channels: int = 1) -> tuple[nn.Sequential, int]:
    """Conv3x3 -> BatchNorm -> ReLU -> MaxPool2d(2) per entry of `channels` (each block halves both axes).
    Returns (the stack, its output channels). Used by MATE's audio branch and the SSCL encoder."""
    layers, c_in = [], in_channels
    for c in channels:
        layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                   nn.MaxPool2d(2)]
        c_in = c
    return nn.Sequential(*layers), c_in
