"""xLSTM blocks (Beck et al., 2024, "xLSTM: Extended Long Short-Term Memory") in plain PyTorch.

Two cells, both with exponential input gates that must be kept finite:

- sLSTM: scalar memory ``c`` and normaliser ``n`` per unit, a recurrent matrix that mixes units
  inside each head. It is truly recurrent, so it runs a Python loop over the fixed 60-step
  window; at export the loop unrolls. To keep that graph small, the input projections of all
  steps are one matmul before the loop, the four gates share one block-diagonal recurrent
  matrix (one matmul per step), and the step carries ``c / n`` and ``log n`` (finite by
  construction) rather than ``c``, ``n`` and the paper's stabiliser ``m``: the same outputs in
  about two thirds of the graph nodes. The steps run batch-inside (one matmul per head over
  all windows of a batch, not one per window) and use no Softplus, which onnxruntime runs as
  scalar code (``log_add_exp``).
- mLSTM: a matrix memory ``C = sum f * i * v k^T`` with no hidden-to-hidden recurrence, so over
  a fixed window it has an exact parallel form that looks like causal attention with a
  gate-derived decay matrix, kept finite by a per-step stabiliser ``m``. That form exports as a
  handful of large ops.

A stack (``XLSTM``) is a sequence of residual blocks given by a layout string such as
``"mmsmm"``. ``last_only`` makes the stack's last block compute only its last step (the
variants that read the last step alone use it; tests compare it with the full sequence).

Shapes come from the config, never from ``x.shape``: the batch is the one free axis (-1 in a
reshape), so the exported graph holds each shape as a constant instead of reading dimensions
out of the input at every call (``Shape -> Gather -> Unsqueeze -> Concat`` chains, about a
third of a graph's kernels at batch 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class XLSTMConfig:
    d_model: int = 256  # width of the residual stream
    layout: str = "mmmsmmm"  # block kinds in order: m = mLSTM block, s = sLSTM block
    n_heads: int = 4  # heads of the cells (recurrent blocks, memories, group norms)
    up_factor: int = 2  # mLSTM inner width = up_factor * d_model (pre up-projection)
    conv_kernel: int = 4  # causal depthwise convolution before the mLSTM query and key
    ffn_factor: float = 4 / 3  # sLSTM gated feed-forward width, times d_model (post up-projection)
    window: int = 60  # fixed sequence length: every shape but the batch is built from it


class HeadNorm(nn.Module):
    """Group norm with one group per head: each head's output is normalised on its own."""

    def __init__(self, width: int, n_heads: int):
        super().__init__()
        self.n_heads, self.head_dim = n_heads, width // n_heads
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        heads = x.reshape(-1, self.head_dim)  # (..., D) -> (rows * NH, dh): a row per head
        heads = F.layer_norm(heads, (self.head_dim,), eps=1e-5)
        return heads.view_as(x) * self.weight


class GatedFeedForward(nn.Module):
    """GeLU-gated feed-forward: down(gelu(gate) * value)."""

    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.up = nn.Linear(d_model, 2 * hidden)
        self.down = nn.Linear(hidden, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.up(x).split(self.hidden, dim=-1)  # (B, T, H) each
        return self.down(F.gelu(gate) * value)


def log_add_exp(a: torch.Tensor, b: torch.Tensor, a_minus_b: torch.Tensor) -> torch.Tensor:
    """log(exp(a) + exp(b)) = max(a, b) - log(sigmoid(|a - b|)), given a - b.

    The same value as ``b + softplus(a - b)`` without onnxruntime's Softplus, which is scalar
    code (about 5x a Sigmoid at batch 1, 40x at batch 32). sigmoid(|.|) lies in [0.5, 1], so
    the log never meets 0, and a = -inf gives b exactly.
    """
    return torch.maximum(a, b) - F.logsigmoid(a_minus_b.abs())  # exported as Log(Sigmoid)


class SLSTMCell(nn.Module):
    """Scalar-memory LSTM with exponential input gate, stabiliser m and normaliser n."""

    def __init__(self, config: XLSTMConfig):
        super().__init__()
        d, heads = config.d_model, config.n_heads
        self.n_heads, self.head_dim, self.width, self.window = heads, d // heads, d, config.window
        # Per head the pre-activations are laid out [i | f | z | o], each head_dim wide.
        self.input_gates = nn.Linear(d, 4 * d)
        self.recurrent_gates = nn.Parameter(torch.empty(heads, self.head_dim, 4 * self.head_dim))
        nn.init.normal_(self.recurrent_gates, std=1.0 / math.sqrt(self.head_dim))
        with torch.no_grad():  # a forget gate that starts open remembers across the window
            self.input_gates.bias.view(heads, 4, self.head_dim)[:, 1].uniform_(3.0, 6.0)

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """The paper's h_t = o_t * c_t / n_t, tracked as the ratio itself and log n_t.

        Only c / n reaches the output, and c / n is the gate-weighted mean of tanh(z). Carrying
        that mean and log n instead of (c, n, m) is the same recurrence rescaled by n rather than
        by exp(m): every quantity stays O(1) or logarithmic, as the stabiliser intends, and each
        step is fewer (unrolled) graph nodes, which is what batch-1 inference pays for.

        The steps run in a (1, NH, B, dh) layout: each step's recurrent product is one matmul
        per head over the whole batch (B rows), not B one-row products. ``last_only`` returns
        the last step's h (B, 1, D) instead of every step's (B, T, D).
        """
        gates_x = self.input_gates(x).reshape(-1, self.window, self.n_heads, 4 * self.head_dim)
        gates_x = gates_x.permute(1, 2, 0, 3)  # step-major, heads before batch: (T, NH, B, 4dh)
        step_gates = gates_x.split(1, dim=0)  # one Split node; each (1, NH, B, 4dh)
        # Step 0 starts from h = c = n = 0: the mean is tanh(z) itself and n = exp(i).
        i, _, z, o = step_gates[0].split(self.head_dim, dim=-1)  # (1, NH, B, dh) each
        mean, log_n = torch.tanh(z), i
        h = torch.sigmoid(o) * mean
        outputs = [h]
        for gates in step_gates[1:]:  # fixed window: unrolled at export, no data-dependent branch
            i, f, z, o = (gates + h @ self.recurrent_gates).split(self.head_dim, dim=-1)
            past = log_n + F.logsigmoid(f)  # log(f n_{t-1})
            past_vs_new = past - i  # log(f n_{t-1} / exp(i)): the past's weight against the input
            log_n = log_add_exp(past, i, past_vs_new)  # log(f n_{t-1} + exp(i)) = log n_t
            candidate = torch.tanh(z)
            mean = candidate + torch.sigmoid(past_vs_new) * (mean - candidate)
            h = torch.sigmoid(o) * mean
            outputs.append(h)
        kept = outputs[-1:] if last_only else outputs
        hs = torch.cat(kept, dim=0).permute(2, 0, 1, 3)  # (B, R, NH, dh)
        return hs.reshape(-1, len(kept), self.width)  # (B, R, D)


class SLSTMBlock(nn.Module):
    """Pre-norm residual sLSTM block followed by a gated feed-forward (post up-projection)."""

    def __init__(self, config: XLSTMConfig):
        super().__init__()
        d = config.d_model
        self.norm_cell = nn.LayerNorm(d)
        self.cell = SLSTMCell(config)
        self.head_norm = HeadNorm(d, config.n_heads)
        self.norm_ffn = nn.LayerNorm(d)
        self.ffn = GatedFeedForward(d, round(config.ffn_factor * d))

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """(B, T, D) -> (B, T, D), or the last step (B, 1, D) with ``last_only``."""
        cell = self.head_norm(self.cell(self.norm_cell(x), last_only))  # (B, R, D)
        x = (x[:, -1:] if last_only else x) + cell
        return x + self.ffn(self.norm_ffn(x))


class HeadwiseLinear(nn.Module):
    """One small dense map per head (a block-diagonal matrix), applied to (B, NH, T, dh)."""

    def __init__(self, n_heads: int, head_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_heads, head_dim, head_dim))
        nn.init.normal_(self.weight, std=1.0 / math.sqrt(head_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, NH, T, dh)
        return x @ self.weight  # one batched matmul over the heads


class MLSTMBlock(nn.Module):
    """Matrix-memory LSTM block in its parallel form (pre up-projection, as in the paper)."""

    def __init__(self, config: XLSTMConfig):
        super().__init__()
        d, inner = config.d_model, config.up_factor * config.d_model
        self.inner, self.window = inner, config.window
        self.n_heads, self.head_dim = config.n_heads, inner // config.n_heads
        self.norm = nn.LayerNorm(d)
        self.up = nn.Linear(d, 2 * inner)
        self.conv = nn.Conv1d(inner, inner, config.conv_kernel, groups=inner)
        self.query = HeadwiseLinear(config.n_heads, self.head_dim)
        self.key = HeadwiseLinear(config.n_heads, self.head_dim)
        self.value = HeadwiseLinear(config.n_heads, self.head_dim)
        self.gates = nn.Linear(2 * inner, 2 * config.n_heads)  # input and forget gate per head
        self.head_norm = HeadNorm(inner, config.n_heads)
        self.skip = nn.Parameter(torch.ones(inner))
        self.down = nn.Linear(inner, d)
        with torch.no_grad():  # forget gates start open, input gates start neutral
            self.gates.bias[: config.n_heads].zero_()
            self.gates.bias[config.n_heads :].uniform_(3.0, 6.0)
        # Added to the log decay: 0 where step s <= t may be read at step t, -inf (exp -> 0) above
        # the diagonal. One Add at inference, cheaper than a boolean select.
        future = torch.full((config.window, config.window), float("-inf")).triu(1)
        self.register_buffer("causal_mask", future, persistent=False)

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """(B, T, D) -> (B, T, D), or the last step (B, 1, D) with ``last_only``.

        Keys, values and gates need every step; the query, the memory read-out, the output
        gate ``z`` and the down projection only the steps returned, so ``last_only`` slices the
        up projection's z half and the query weight (constants of the exported graph). Over
        every step each pair stays one matmul.
        """
        steps = self.window  # (B, T, D) with T = steps
        rows = 1 if last_only else steps
        normed, inner, dim = self.norm(x), self.inner, self.head_dim
        if last_only:
            weight, bias = self.up.weight, self.up.bias
            x_up = F.linear(normed, weight[:inner], bias[:inner])  # (B, T, I)
            z = F.linear(normed[:, -1:], weight[inner:], bias[inner:])  # (B, 1, I)
        else:
            x_up, z = self.up(normed).split(inner, dim=-1)  # (B, T, I) each
        x_conv = F.silu(self.causal_conv(x_up))  # (B, T, I)
        heads_conv, heads_up = self.split_heads(x_conv), self.split_heads(x_up)  # (B, NH, T, dh)
        if last_only:
            q, k = self.query(heads_conv[:, :, -1:]), self.key(heads_conv)  # (B, NH, 1|T, dh)
        else:  # query and key read the same input: one matmul over both weights
            query_key = torch.cat([self.query.weight, self.key.weight], dim=-1)  # (NH, dh, 2dh)
            q, k = (heads_conv @ query_key).split(dim, dim=-1)
        v = self.value(heads_up)  # (B, NH, T, dh)
        gates = self.gates(torch.cat([x_conv, x_up], dim=-1)).transpose(1, 2)  # (B, 2NH, T)
        i_pre, f_pre = gates.split(self.n_heads, dim=1)  # (B, NH, T) each
        h = self.memory(q, k, v, i_pre, f_pre, last_only)  # (B, NH, R, dh)
        h = h.transpose(1, 2).reshape(-1, rows, inner)  # (B, R, I)
        h = self.head_norm(h) + self.skip * x_conv[:, steps - rows :]
        return x[:, steps - rows :] + self.down(h * F.silu(z))

    def causal_conv(self, x: torch.Tensor) -> torch.Tensor:
        """The depthwise convolution as a sum of shifted copies, step t seeing steps <= t.

        Same weights and result as ``self.conv`` on left-padded input, but it stays in the
        (B, T, I) layout: no transposes, and a few wide elementwise ops instead of a depthwise
        Conv kernel, which onnxruntime runs slowly on the CPU.
        """
        steps, kernel = self.window, self.conv.kernel_size[0]
        padded = F.pad(x, (0, 0, kernel - 1, 0))  # (B, T + K - 1, I)
        taps = self.conv.weight[:, 0].t()  # (K, I): tap k reads the input K - 1 - k steps back
        out = self.conv.bias + padded[:, :steps] * taps[0]
        for k in range(1, kernel):
            out = out + padded[:, k : k + steps] * taps[k]
        return out

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, I) -> (B, NH, T, dh)
        return x.reshape(-1, self.window, self.n_heads, self.head_dim).transpose(1, 2)

    def memory(self, q, k, v, i_pre, f_pre, last_only: bool = False) -> torch.Tensor:
        """h_t = C_t q_t / max(|n_t q_t|, 1) for the last R steps at once (R = q's rows).

        Stabilised in log space; q (B, NH, R, dh) holds the queries of the last R steps: every
        step's, or the last one's with ``last_only``.
        """
        steps = self.window
        rows = 1 if last_only else steps
        log_f_sum = torch.cumsum(F.logsigmoid(f_pre), dim=-1)  # (B, NH, T)
        # log D[t, s] = sum_{r=s+1..t} log f_r + i_s: how much of step s is left at step t
        kept_since = i_pre - log_f_sum  # (B, NH, T): the per-s part, before the R x T broadcast
        log_decay = (log_f_sum[..., steps - rows :].unsqueeze(-1) + kept_since.unsqueeze(-2)
                     + self.causal_mask[steps - rows :])  # (B, NH, R, T)
        m = log_decay.amax(dim=-1, keepdim=True)  # (B, NH, R, 1) stabiliser per step
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.head_dim) * torch.exp(log_decay - m)
        normaliser = torch.maximum(scores.sum(dim=-1, keepdim=True).abs(), torch.exp(-m))
        return (scores / (normaliser + 1e-6)) @ v  # (B, NH, T, dh)


class XLSTM(nn.Module):
    """A stack of mLSTM and sLSTM blocks over a (B, T, D) sequence, closed by a layer norm."""

    def __init__(self, config: XLSTMConfig):
        super().__init__()
        kinds = {"m": MLSTMBlock, "s": SLSTMBlock}
        if not config.layout or set(config.layout) - set(kinds):
            raise ValueError(f"xLSTM layout {config.layout!r}: use the letters m and s only")
        self.blocks = nn.ModuleList(kinds[kind](config) for kind in config.layout)
        self.norm = nn.LayerNorm(config.d_model)

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """(B, T, D) -> (B, T, D); with ``last_only`` the last step alone (B, 1, D).

        Every block but the last needs all steps (the next block reads them); the last block
        computes only what its last step needs.
        """
        for block in self.blocks[:-1]:
            x = block(x)
        return self.norm(self.blocks[-1](x, last_only))
