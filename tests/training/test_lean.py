"""The lean forward (last step only where only the last step is read) equals the full one.

The reference here is the straightforward computation: every block over the whole window,
textbook attention with the full T x T score matrix, then the last step taken at the end,
written independently of the models' lean code paths and run on the same weights.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from contract.model import POSITION_DIM, WINDOW
from training.export import torch_threads
from training.models import TINY_OVERRIDES, VARIANTS, build_model
from training.models.transformer import TransformerEncoder
from training.models.xlstm import XLSTM, XLSTMConfig

N_FEATURES = 7


@pytest.fixture(autouse=True, scope="module")
def single_thread_torch():
    with torch_threads(1):
        yield


def reference_encoder(encoder: TransformerEncoder, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Pre-norm encoder over every position: (B, T, D) and the last row's mean attention."""
    x = x + encoder.position
    for block in encoder.blocks:
        attention = block.attention
        heads, dim = attention.n_heads, attention.head_dim
        normed = F.layer_norm(x, x.shape[-1:], block.norm_attention.weight,
                              block.norm_attention.bias)
        q, k, v = F.linear(normed, attention.qkv.weight, attention.qkv.bias).chunk(3, dim=-1)
        q, k, v = (t.reshape(*t.shape[:2], heads, dim).transpose(1, 2) for t in (q, k, v))
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dim), dim=-1)  # (B,NH,T,T)
        mixed = (weights @ v).transpose(1, 2).reshape(x.shape)
        x = x + attention.proj(mixed)
        x = x + block.mlp(block.norm_mlp(x))
    return encoder.norm(x), weights[:, :, -1].mean(dim=1)


def reference_xlstm(stack: XLSTM, x: torch.Tensor) -> torch.Tensor:
    """Every block over every step (the full-sequence form), last step taken afterwards."""
    for block in stack.blocks:
        x = block(x, last_only=False)
    return stack.norm(x)


def reference_forward(model, features: torch.Tensor, position: torch.Tensor):
    """Each variant's outputs computed over the whole window, the last step read at the end."""
    x = model.normalise(features)
    if model.variant == "simplex":
        summary, attention = model.pool(reference_xlstm(model.xlstm, model.embed(x)))
        return (*model.heads(summary), attention)
    if model.variant in ("hybrid", "full"):
        recurrent = reference_xlstm(model.xlstm, model.embed_xlstm(x))[:, -1]
        attended, attention = reference_encoder(model.transformer, model.embed_transformer(x))
        parts = [recurrent, attended[:, -1]]
        if model.variant == "full":
            parts.append(model.position_path(position))
        return (*model.heads(model.fusion(parts)), attention)
    direction, pool = model.direction_pool(
        reference_xlstm(model.direction_net, model.embed_direction(x)))
    price, price_attention = reference_encoder(model.price_net, model.embed_price(x))
    risk = reference_xlstm(model.risk_net, model.embed_risk(x))[:, -1]
    fused = model.fusion([direction, price[:, -1], risk])
    return (*model.heads(fused), 0.5 * (pool + price_attention))


def inputs(batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(batch, WINDOW, N_FEATURES, generator=generator)
    return features, torch.rand(batch, POSITION_DIM, generator=generator) * 2 - 1


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("size", ["tiny", "full-size"])
def test_lean_forward_equals_the_full_sequence_reference(variant: str, size: str) -> None:
    torch.manual_seed(5)
    overrides = TINY_OVERRIDES[variant] if size == "tiny" else {}
    model = build_model(variant, N_FEATURES, **overrides).eval()
    features, position = inputs(3, seed=11)
    with torch.no_grad():
        lean = model(features, position)
        reference = reference_forward(model, features, position)
    for got, want in zip(lean, reference, strict=True):
        torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("layout", ["m", "s", "ms", "sm", "mms"])
def test_last_only_is_the_last_step_of_every_block_kind(layout: str) -> None:
    torch.manual_seed(6)
    stack = XLSTM(XLSTMConfig(d_model=16, layout=layout, n_heads=2)).eval()
    x = torch.randn(4, WINDOW, 16)
    with torch.no_grad():
        full, last = stack(x), stack(x, last_only=True)
    assert last.shape == (4, 1, 16)
    torch.testing.assert_close(last[:, 0], full[:, -1], atol=1e-5, rtol=1e-4)


def test_batch_rows_do_not_mix() -> None:
    """The sLSTM runs with the batch inside each step's matmul: a row's answer is its own."""
    torch.manual_seed(7)
    model = build_model("full", N_FEATURES, **TINY_OVERRIDES["full"]).eval()
    features, position = inputs(5, seed=12)
    with torch.no_grad():
        together = model(features, position)
        alone = [model(features[i : i + 1], position[i : i + 1]) for i in range(5)]
    for index, output in enumerate(together):
        stacked = torch.cat([single[index] for single in alone])
        torch.testing.assert_close(output, stacked, atol=1e-5, rtol=1e-4)
