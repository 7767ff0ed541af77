"""The model zoo's contract: sizes, output shapes, attention, position, normaliser, xLSTM maths."""

from __future__ import annotations

import pytest
import torch

from contract import model as contract
from contract.model import POSITION_DIM, WINDOW, output_shapes
from training.export import torch_threads
from training.models import TINY_OVERRIDES, VARIANTS, build_model
from training.models.xlstm import MLSTMBlock, SLSTMCell, XLSTMConfig

EXPECTED_PARAMETERS = {"full": 27.1e6, "simplex": 3e6, "hybrid": 6e6, "ensemble": 8e6}
N_FEATURES = 37


@pytest.fixture(autouse=True, scope="module")
def single_thread_torch():
    """Two OpenMP threads fighting the rest of the suite for two cores are far slower than one."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def full_size_models() -> dict:
    torch.manual_seed(0)
    return {name: build_model(name, N_FEATURES).eval() for name in VARIANTS}


def test_every_variant_is_registered() -> None:
    """The registry holds exactly the variants the contract names (serving lists those)."""
    assert set(VARIANTS) == set(EXPECTED_PARAMETERS) == set(contract.VARIANTS)
    assert contract.COMBINED not in VARIANTS  # the weighted mix is never a single model


@pytest.mark.parametrize("variant", sorted(EXPECTED_PARAMETERS))
def test_parameter_count_within_ten_percent(variant: str, full_size_models: dict) -> None:
    count = full_size_models[variant].parameter_count()
    target = EXPECTED_PARAMETERS[variant]
    assert abs(count - target) <= 0.10 * target, f"{variant}: {count:,} vs {target:,.0f}"


@pytest.mark.parametrize("variant", sorted(EXPECTED_PARAMETERS))
def test_full_size_outputs_have_the_contract_shapes(variant: str, full_size_models: dict) -> None:
    features = torch.randn(2, WINDOW, N_FEATURES) * 3
    with torch.no_grad():
        direction, returns, volatility, attention = full_size_models[variant](
            features, torch.rand(2, POSITION_DIM)
        )
    expected = output_shapes()  # what export writes and serving checks, in output order
    got = {"direction_logits": direction, "returns": returns, "volatility": volatility,
           "attention": attention}
    assert list(expected) == list(contract.OUTPUT_NAMES)
    for name, shape in expected.items():
        assert tuple(got[name].shape) == (2, *shape[1:]), name
    assert bool((volatility >= 0).all())
    assert bool((attention >= 0).all())
    torch.testing.assert_close(attention.sum(dim=1), torch.ones(2))
    for output in (direction, returns, volatility, attention):
        assert bool(torch.isfinite(output).all())


def tiny(variant: str, n_features: int = 6):
    torch.manual_seed(1)
    return build_model(variant, n_features, **TINY_OVERRIDES[variant]).eval()


def test_position_changes_the_full_models_outputs_and_no_other() -> None:
    features = torch.randn(3, WINDOW, 6)
    flat, long = torch.zeros(3, POSITION_DIM), torch.tensor([[1.0, 0.05, 0.3, -0.02]] * 3)
    for variant in VARIANTS:
        model = tiny(variant)
        with torch.no_grad():
            a, b = model(features, flat), model(features, long)
        moved = not torch.allclose(a[1], b[1])
        assert moved == (variant == "full"), variant
        if variant == "full":  # no position means flat: the zero state
            torch.testing.assert_close(model(features, None)[1], a[1])


def test_normaliser_lets_the_model_read_raw_columns() -> None:
    model = tiny("hybrid")
    standard = torch.randn(2, WINDOW, 6)
    with torch.no_grad():
        expected = model(standard)
        mean, std = torch.linspace(-50, 3000, 6), torch.linspace(0.01, 400, 6)
        model.set_normaliser(mean, std)
        raw = mean + std * standard
        for want, got in zip(expected, model(raw), strict=True):
            torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="std positive"):
        model.set_normaliser(mean, torch.zeros(6))
    with pytest.raises(ValueError, match="6 values"):
        model.set_normaliser(torch.zeros(5), torch.ones(5))


def test_bad_names_are_refused() -> None:
    with pytest.raises(KeyError, match="unknown model variant 'huge'"):
        build_model("huge", 4)
    with pytest.raises(ValueError, match="layout"):
        build_model("simplex", 4, xlstm={"layout": "mx"})


def test_slstm_stabiliser_changes_nothing_but_the_scale() -> None:
    """The stabilised cell equals the paper's unstabilised recurrence (float64, small inputs)."""
    torch.manual_seed(2)
    cell = SLSTMCell(XLSTMConfig(d_model=8, n_heads=2)).double()
    x = torch.randn(2, WINDOW, 8, dtype=torch.float64) * 0.5
    pre_x = cell.input_gates(x).reshape(2, WINDOW, 2, 1, 16)
    h = c = n = torch.zeros(2, 2, 1, 4, dtype=torch.float64)
    expected = []
    for t in range(WINDOW):
        i, f, z, o = (pre_x[:, t] + h @ cell.recurrent_gates).split(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.exp(i) * torch.tanh(z)
        n = torch.sigmoid(f) * n + torch.exp(i)
        h = torch.sigmoid(o) * c / n
        expected.append(h)
    expected = torch.stack(expected, dim=1).reshape(2, WINDOW, 8)
    torch.testing.assert_close(cell(x), expected)


def test_mlstm_parallel_form_equals_the_recurrent_matrix_memory() -> None:
    """h_t = C_t q_t / max(|n_t . q_t|, 1) with C_t = f C + i v k^T, run step by step."""
    torch.manual_seed(3)
    block = MLSTMBlock(XLSTMConfig(d_model=4, n_heads=2)).double()
    batch, heads, dim = 2, 2, 4
    q, k, v = (torch.randn(batch, heads, WINDOW, dim, dtype=torch.float64) for _ in range(3))
    i_pre = torch.randn(batch, heads, WINDOW, dtype=torch.float64)
    f_pre = torch.randn(batch, heads, WINDOW, dtype=torch.float64) + 2
    memory = torch.zeros(batch, heads, dim, dim, dtype=torch.float64)
    normaliser = torch.zeros(batch, heads, dim, dtype=torch.float64)
    expected = []
    for t in range(WINDOW):
        f_gate = torch.sigmoid(f_pre[..., t, None])
        i_gate = torch.exp(i_pre[..., t, None])
        key = k[..., t, :] / dim**0.5
        memory = f_gate[..., None] * memory + (i_gate * v[..., t, :])[..., None] * key[..., None, :]
        normaliser = f_gate * normaliser + i_gate * key
        query = q[..., t, :]
        scale = (normaliser * query).sum(-1, keepdim=True).abs().clamp(min=1.0)
        expected.append((memory @ query[..., None]).squeeze(-1) / scale)
    expected = torch.stack(expected, dim=2)
    torch.testing.assert_close(block.memory(q, k, v, i_pre, f_pre), expected, atol=1e-5, rtol=1e-4)


def test_blocks_see_no_future_bars() -> None:
    """Changing the last bar leaves every earlier step of the xLSTM stack unchanged."""
    model = tiny("simplex")
    x = torch.randn(1, WINDOW, 16)
    changed = x.clone()
    changed[:, -1] = torch.randn(1, 16)
    with torch.no_grad():
        before, after = model.xlstm(x), model.xlstm(changed)
    torch.testing.assert_close(before[:, :-1], after[:, :-1])
    assert not torch.allclose(before[:, -1], after[:, -1])



def test_slstm_stays_exact_when_the_input_gate_jumps() -> None:
    """A step whose input gate outweighs the past by about e^180 (far past the floor of the
    past's log weight, e^-80), and a later one as strong as it, still give the paper's
    recurrence: the second must weigh against the first's true normaliser."""
    torch.manual_seed(4)
    cell = SLSTMCell(XLSTMConfig(d_model=8, n_heads=2))
    with torch.no_grad():  # every input gate reads feature 0 alone: exp(-60) unless it jumps
        gates = cell.input_gates.weight.view(2, 4, 4, 8)
        gates[:, 0] = 0.0
        gates[:, 0, :, 0] = 1.0
        gates[:, 2, :, 0] = 0.0  # the candidates z do not: they come from the other features
        cell.input_gates.bias.view(2, 4, 4)[:, 0] = -60.0
    x = torch.randn(1, WINDOW, 8) * 0.5
    x[0, 30, 0] = 180.0  # i jumps to about +120 at step 30
    x[0, 45, 0] = 180.5  # and again at step 45, a little stronger, with other candidates
    x[0, 45, 1:] = -2 * x[0, 30, 1:]
    pre_x = cell.input_gates(x).detach().double().reshape(1, WINDOW, 2, 1, 16)
    recurrent = cell.recurrent_gates.detach().double()
    h = c = n = torch.zeros(1, 2, 1, 4, dtype=torch.float64)
    expected = []
    for t in range(WINDOW):
        i, f, z, o = (pre_x[:, t] + h @ recurrent).split(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.exp(i) * torch.tanh(z)
        n = torch.sigmoid(f) * n + torch.exp(i)
        h = torch.sigmoid(o) * c / n
        expected.append(h)
    expected = torch.stack(expected, dim=1).reshape(1, WINDOW, 8).float()
    with torch.no_grad():
        got = cell(x)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
