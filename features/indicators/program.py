"""Indicators as small expressions, compiled into one program for the kernels.

An indicator is written once, as arithmetic on :class:`Expr` values::

    change = bars.close - bars.close.lag(1)
    up, down = change.clip_low(0.0).wilder(14), (-change).clip_low(0.0).wilder(14)
    rsi = ratio(up, up + down, when_zero=50.0, scale=100.0)

Every call adds (or re-uses) a node of a :class:`Graph`; equal sub-expressions are shared, so
the true range is computed once for ATR, ADX and both DIs. :meth:`Graph.compile` turns the
graph into a :class:`Program`: the integer and float tables that
:func:`features.indicators.kernels.run_program` walks, plus each node's warm-up (the number of
leading NaN values it produces on a clean series), derived from the operations themselves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from features.indicators import kernels as K


@dataclass(frozen=True)
class Node:
    op: int  # an operation code from features.indicators.kernels
    inputs: tuple[int, ...]  # earlier nodes this one reads (up to three)
    length: int = 0  # window, span or lag, for stateful operations
    p: float = 0.0  # first float parameter (fallback of RATIO, scale of AFFINE, ...)
    q: float = 0.0  # second float parameter (offset of AFFINE)
    name: str = ""  # only for inputs


class Graph:
    """Nodes in dependency order, with equal nodes stored once."""

    def __init__(self, input_names: tuple[str, ...]) -> None:
        self.nodes: list[Node] = []
        self._index: dict[Node, int] = {}
        self.inputs = {name: self.add(Node(K.INPUT, (), name=name)) for name in input_names}

    def add(self, node: Node) -> Expr:
        if node not in self._index:
            self._index[node] = len(self.nodes)
            self.nodes.append(node)
        return Expr(self, self._index[node])

    def input(self, name: str) -> Expr:
        return self.inputs[name]

    def constant(self, value: float) -> Expr:
        return self.add(Node(K.CONST, (), p=float(value)))

    def compile(self, outputs: list[Expr]) -> Program:
        """The tables for the kernels, computing ``outputs`` in that order."""
        code = np.zeros((len(self.nodes), K.CODE_COLUMNS), dtype=np.int64)
        params = np.zeros((len(self.nodes), 2))
        warmup = np.zeros(len(self.nodes), dtype=np.int64)
        state_slots = ring_rows = 0
        for k, node in enumerate(self.nodes):
            inputs = (*node.inputs, k, k, k)[:3]  # unused inputs point at the node itself
            code[k, :5] = (node.op, *inputs, node.length)
            params[k] = (node.p, node.q)
            code[k, K.STATE_AT], code[k, K.RING_AT] = state_slots, ring_rows
            state_slots += K.STATE_SLOTS.get(node.op, 0)
            if node.op == K.LAG or node.op in K.WINDOW_OPS:
                ring_rows += node.length * (2 if node.op == K.COV else 1)
            before = max((int(warmup[i]) for i in node.inputs), default=0)
            if node.op == K.SIGN:  # a NaN becomes a number: the warm-up ends here
                before = 0
            warmup[k] = before + _added_warmup(node)
        outputs_at = np.array([expr.index for expr in outputs], dtype=np.int64)
        return Program(code, params, warmup, outputs_at, state_slots, ring_rows,
                       {name: expr.index for name, expr in self.inputs.items()})


def _added_warmup(node: Node) -> int:
    """Leading NaN steps a node adds to its inputs' warm-up."""
    if node.op == K.LAG:
        return node.length
    if node.op in K.WINDOW_OPS or node.op in (K.EMA, K.WILDER, K.WILDER_SUM):
        return node.length - 1
    return 0


@dataclass(frozen=True, eq=False)
class Program:
    code: np.ndarray  # int64 (nodes, CODE_COLUMNS): operation, inputs, length, memory offsets
    params: np.ndarray  # float64 (nodes, 2): the float parameters of each node
    warmup: np.ndarray  # int64 (nodes,): leading NaN steps of each node on a clean series
    outputs: np.ndarray  # int64 (outputs,): the node of each output column
    state_slots: int  # rows of the state table per symbol
    ring_rows: int  # rows of the ring-buffer table per symbol
    input_at: dict[str, int]  # input name -> its node

    def new_memory(self, symbols: int) -> tuple[np.ndarray, np.ndarray]:
        """Empty state and ring tables for ``symbols`` symbols (all counts at zero)."""
        return np.zeros((self.state_slots, symbols)), np.zeros((self.ring_rows, symbols))

    def fingerprint(self) -> str:
        """Changes whenever the program does; a snapshot of another program is refused."""
        digest = hashlib.sha256(self.code.tobytes() + self.params.tobytes())
        return digest.hexdigest()[:16]

    def new_values(self, steps: int, symbols: int) -> np.ndarray:
        """Room for every node's values; fill the input rows (``input_at``) before :meth:`run`."""
        return np.empty((len(self.code), steps, symbols))

    def run(self, vals: np.ndarray, state: np.ndarray, ring: np.ndarray,
            syms: np.ndarray) -> np.ndarray:
        """Step the selected symbols through the steps of ``vals`` and return the outputs.

        ``vals`` comes from :meth:`new_values` with its inputs filled in; ``syms`` are the
        symbols' columns in ``state`` and ``ring``, which are updated in place. The result is
        (outputs, steps, len(syms)).
        """
        K.run_program(self.code, self.params, state, ring, vals, syms)
        return vals[self.outputs]


class Expr:
    """One node of a graph, with the operations that build new nodes."""

    def __init__(self, graph: Graph, index: int) -> None:
        self.graph, self.index = graph, index

    def _node(self, op: int, *others: Expr, length: int = 0, p: float = 0.0,
              q: float = 0.0) -> Expr:
        inputs = (self.index, *(other.index for other in others))
        return self.graph.add(Node(op, inputs, length, float(p), float(q)))

    def _operand(self, other: Expr | float) -> Expr:
        return other if isinstance(other, Expr) else self.graph.constant(other)

    def __add__(self, other: Expr | float) -> Expr:
        if isinstance(other, Expr):
            return self._node(K.ADD, other)
        return self._node(K.AFFINE, p=1.0, q=other)

    def __sub__(self, other: Expr | float) -> Expr:
        if isinstance(other, Expr):
            return self._node(K.SUB, other)
        return self._node(K.AFFINE, p=1.0, q=-other)

    def __rsub__(self, other: float) -> Expr:
        return self._node(K.AFFINE, p=-1.0, q=other)

    def __mul__(self, other: Expr | float) -> Expr:
        if isinstance(other, Expr):
            return self._node(K.MUL, other)
        return self._node(K.AFFINE, p=other)

    __radd__, __rmul__ = __add__, __mul__

    def __neg__(self) -> Expr:
        return self._node(K.AFFINE, p=-1.0)

    def abs(self) -> Expr:
        return self._node(K.ABS)

    def log(self) -> Expr:
        return self._node(K.LOG)

    def clip_low(self, floor: float) -> Expr:
        return maximum(self, self._operand(floor))

    def sign(self, when_nan: float) -> Expr:
        """-1, 0 or 1; ``when_nan`` where the value is NaN (this ends any warm-up)."""
        return self._node(K.SIGN, p=when_nan)

    def cycle_sin(self, period: float) -> Expr:
        return self._node(K.CYCLE_SIN, p=period)

    def cycle_cos(self, period: float) -> Expr:
        return self._node(K.CYCLE_COS, p=period)

    def lag(self, n: int) -> Expr:
        return self._node(K.LAG, length=n)

    def sum(self, n: int) -> Expr:
        return self._node(K.SUM, length=n)

    def mean(self, n: int) -> Expr:
        return self._node(K.MEAN, length=n)

    def std(self, n: int) -> Expr:
        """Population standard deviation over ``n`` values."""
        return self._node(K.STD, length=n)

    def max(self, n: int) -> Expr:
        return self._node(K.MAX, length=n)

    def min(self, n: int) -> Expr:
        return self._node(K.MIN, length=n)

    def ema(self, n: int) -> Expr:
        return self._node(K.EMA, length=n)

    def wilder(self, n: int) -> Expr:
        return self._node(K.WILDER, length=n)

    def wilder_sum(self, n: int) -> Expr:
        return self._node(K.WILDER_SUM, length=n)

    def cumsum(self) -> Expr:
        return self._node(K.CUMSUM)


def ratio(a: Expr, b: Expr | float, when_zero: float, scale: float = 1.0) -> Expr:
    """``scale * a / b``, and ``when_zero`` where ``b`` is 0, so no column ever holds inf."""
    return a._node(K.RATIO, a._operand(b), p=when_zero, q=scale)


def maximum(a: Expr, b: Expr) -> Expr:
    return a._node(K.MAXIMUM, b)


def gate(value: Expr, a: Expr, b: Expr, tolerance: float = 0.0) -> Expr:
    """``value`` where ``a > b`` by more than ``tolerance`` (relative to ``b``), else 0."""
    return value._node(K.GATE, a, b, p=tolerance)


def cov(a: Expr, b: Expr, n: int) -> Expr:
    """Population covariance of ``a`` and ``b`` over ``n`` values."""
    return a._node(K.COV, b, length=n)
