"""The compiled kernels: a dozen generic steps that every indicator is built from.

A program (see :mod:`features.indicators.program`) is a list of nodes in dependency order. Each
node is one operation on the values of earlier nodes: arithmetic, a lag, a rolling window
statistic, an exponential or Wilder smoothing. :func:`run_program` walks the nodes once, and for
each node runs its kernel over every time step and every selected symbol:

- values: ``vals[node, t, j]`` for time step ``t`` of selected symbol ``j``;
- memory: ``state[slot, symbol]`` (counts and running values) and ``ring[row, symbol]`` (ring
  buffers of fixed length), one column per symbol of the engine.

Batch mode passes a whole history (``T`` steps, one symbol); streaming passes one step for many
symbols. A node only reads earlier nodes at the same step and its own memory, so walking node by
node over all steps computes exactly what walking step by step would: batch and streaming run the
same floating-point operations in the same order.

A NaN input (an upstream warm-up, missing market context) resets a stateful node: it outputs NaN
and starts filling its window again. Only :data:`LAG` keeps going, carrying the NaN along.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Operation codes. Inputs are filled by the caller; constants and element-wise operations keep
# no memory; the rest own state slots and ring rows.
INPUT, CONST = 0, 1
ADD, SUB, MUL, RATIO, AFFINE, ABS, LOG, MAXIMUM, GATE, SIGN, CYCLE_SIN, CYCLE_COS = range(2, 14)
LAG, SUM, MEAN, STD, MAX, MIN, COV = range(20, 27)
EMA, WILDER, WILDER_SUM, CUMSUM = range(30, 34)

WINDOW_OPS = (SUM, MEAN, STD, MAX, MIN, COV)
# Memory slots per symbol: a count, then the ring position (lag, windows) or the running value;
# windows also keep three running sums (or the best value and its age).
STATE_SLOTS = {op: 2 for op in (LAG, EMA, WILDER, WILDER_SUM, CUMSUM)}
STATE_SLOTS |= {op: 5 for op in WINDOW_OPS}

# Columns of the int64 ``code`` table, one row per node.
OP, IN_A, IN_B, IN_C, LENGTH, STATE_AT, RING_AT = range(7)
CODE_COLUMNS = 7


@njit(cache=True, error_model="numpy")
def _arithmetic(op, v, k, a, b, c, p, q):
    """Node ``k`` = an element-wise operation of nodes ``a``, ``b``, ``c``; ``p``, ``q`` are its
    parameters. One plain loop per operation, so the compiler vectorises the common ones.
    """
    if op == ADD:
        for i in range(v.shape[1]):
            v[k, i] = v[a, i] + v[b, i]
    elif op == SUB:
        for i in range(v.shape[1]):
            v[k, i] = v[a, i] - v[b, i]
    elif op == MUL:
        for i in range(v.shape[1]):
            v[k, i] = v[a, i] * v[b, i]
    elif op == AFFINE:
        for i in range(v.shape[1]):
            v[k, i] = v[a, i] * p + q
    elif op == RATIO:  # q * a / b, with p where b is zero (never inf)
        for i in range(v.shape[1]):
            v[k, i] = p if v[b, i] == 0.0 else v[a, i] / v[b, i] * q
    elif op == MAXIMUM:  # NaN if either is NaN
        for i in range(v.shape[1]):
            v[k, i] = v[a, i] if (v[a, i] >= v[b, i] or v[a, i] != v[a, i]) else v[b, i]
    elif op == ABS:
        for i in range(v.shape[1]):
            v[k, i] = abs(v[a, i])
    elif op == LOG:
        for i in range(v.shape[1]):
            v[k, i] = math.log(v[a, i])
    elif op == GATE:  # a where b > c by more than p relative, else 0; NaN if any is NaN
        for i in range(v.shape[1]):
            x, y, z = v[a, i], v[b, i], v[c, i]
            v[k, i] = np.nan if x != x or y != y or z != z else (
                x if y - z > p * abs(z) else 0.0)
    elif op == SIGN:  # -1, 0 or 1; p where a is NaN
        for i in range(v.shape[1]):
            x = v[a, i]
            v[k, i] = p if x != x else (1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0))
    elif op == CYCLE_SIN:
        for i in range(v.shape[1]):
            v[k, i] = math.sin(2.0 * math.pi * v[a, i] / p)
    elif op == CYCLE_COS:
        for i in range(v.shape[1]):
            v[k, i] = math.cos(2.0 * math.pi * v[a, i] / p)


@njit(cache=True, error_model="numpy")
def _lag(n, v, k, a, width, state, ring, slot, row, syms):
    """Node ``k`` = node ``a`` from ``n`` steps back (NaN for the first ``n`` steps)."""
    for j in range(syms.shape[0]):
        s = syms[j]
        count, at = state[slot, s], int(state[slot + 1, s])
        for i in range(j, v.shape[1], width):
            previous = ring[row + at, s]
            ring[row + at, s] = v[a, i]
            at = at + 1 if at + 1 < n else 0
            count += 1.0
            v[k, i] = previous if count > n else np.nan
        state[slot, s], state[slot + 1, s] = count, at


@njit(cache=True, inline="always", error_model="numpy")
def _exact_sums(op, ring, row, n, s):
    """Sum, sum of squares (STD) or of the twin series and of products (COV), from the ring."""
    m1 = m2 = m3 = 0.0
    for i in range(n):
        a = ring[row + i, s]
        b = ring[row + n + i, s] if op == COV else a
        m1 += a
        m2 += a * a if op != COV else b
        m3 += a * b
    return m1, m2, m3


@njit(cache=True, inline="always", error_model="numpy")
def _rescan(op, ring, row, n, at, s):
    """The best value (MAX or MIN) in a full ring, and how many steps ago it came."""
    best, age = np.nan, 0
    for i in range(n):  # oldest first, so a tie keeps the newest
        v = ring[row + at, s]
        if i == 0 or (op == MAX and v >= best) or (op == MIN and v <= best):
            best, age = v, n - 1 - i
        at = at + 1 if at + 1 < n else 0
    return best, age


@njit(cache=True, inline="always", error_model="numpy")
def _statistic(op, n, m1, m2, m3):
    if op == SUM:
        return m1
    mean = m1 / n
    if op == MEAN:
        return mean
    if op == STD:  # population deviation; noise-level variance of a flat window is 0
        squares = m2 / n
        variance = squares - mean * mean
        return math.sqrt(variance) if variance > 1e-12 * squares else 0.0
    return m3 / n - mean * (m2 / n)  # COV


@njit(cache=True, error_model="numpy")
def _rolling_sums(op, n, v, k, a, b, width, state, ring, slot, row, syms):
    """Node ``k`` = SUM, MEAN, STD of node ``a`` (or COV of ``a`` and ``b``) over ``n`` steps;
    NaN until ``n`` valid values are seen.

    Sums are kept running (O(1) a step) and recomputed exactly from the ring each time it
    wraps, so rounding never drifts for more than ``n`` steps.
    """
    for j in range(syms.shape[0]):
        s = syms[j]
        count, at = state[slot, s], int(state[slot + 1, s])
        m1, m2, m3 = state[slot + 2, s], state[slot + 3, s], state[slot + 4, s]
        for i in range(j, v.shape[1], width):
            x = v[a, i]
            y = v[b, i] if op == COV else x
            if x != x or y != y:
                count, at, m1, m2, m3 = 0.0, 0, 0.0, 0.0, 0.0
                v[k, i] = np.nan
                continue
            if count >= n:  # the oldest value leaves the window
                old = ring[row + at, s]
                old_y = ring[row + n + at, s] if op == COV else old
                m1 -= old
                m2 -= old_y if op == COV else old * old
                m3 -= old * old_y
            m1 += x
            m2 += y if op == COV else x * x
            m3 += x * y
            ring[row + at, s] = x
            if op == COV:
                ring[row + n + at, s] = y
            at += 1
            count += 1.0
            if at == n:
                at = 0
                m1, m2, m3 = _exact_sums(op, ring, row, n, s)
            v[k, i] = _statistic(op, n, m1, m2, m3) if count >= n else np.nan
        state[slot, s], state[slot + 1, s] = count, at
        state[slot + 2, s], state[slot + 3, s], state[slot + 4, s] = m1, m2, m3


@njit(cache=True, error_model="numpy")
def _rolling_extreme(op, n, v, k, a, width, state, ring, slot, row, syms):
    """Node ``k`` = MAX or MIN of node ``a`` over ``n`` steps; NaN until ``n`` valid values.

    Keeps the best value and its age, and rescans the ring only when the best leaves it.
    """
    for j in range(syms.shape[0]):
        s = syms[j]
        count, at = state[slot, s], int(state[slot + 1, s])
        best, age = state[slot + 2, s], state[slot + 3, s]
        for i in range(j, v.shape[1], width):
            x = v[a, i]
            if x != x:
                count, at, best, age = 0.0, 0, 0.0, 0.0
                v[k, i] = np.nan
                continue
            if count == 0.0 or (x >= best if op == MAX else x <= best):
                best, age = x, 0.0
            else:
                age += 1.0
            ring[row + at, s] = x
            at = at + 1 if at + 1 < n else 0
            count += 1.0
            if age >= n:
                best, age = _rescan(op, ring, row, n, at, s)
            v[k, i] = best if count >= n else np.nan
        state[slot, s], state[slot + 1, s] = count, at
        state[slot + 2, s], state[slot + 3, s] = best, age


@njit(cache=True, error_model="numpy")
def _smooth(op, n, v, k, a, width, state, slot, syms):
    """Recursive smoothing: EMA, Wilder's average, Wilder's running sum, cumulative sum.

    - EMA (pandas ``ewm(span=n, adjust=False)``, the ``ta`` convention): starts at the first
      value, reported from the ``n``-th on.
    - WILDER (TA-Lib's RSI/ATR/ADX convention): the mean of the first ``n`` values, then
      ``(previous * (n - 1) + x) / n``.
    - WILDER_SUM (TA-Lib's +DM/-DM/TR sums inside ADX and DI): the sum of the first ``n - 1``
      values, then ``previous - previous / n + x``, reported from the ``n``-th value on.
    - CUMSUM: the running total since the first value.
    """
    alpha, inverse = 2.0 / (n + 1.0), 1.0 / n  # multiplying keeps divisions off the chain
    for j in range(syms.shape[0]):
        s = syms[j]
        count = state[slot, s]
        value = state[slot + 1, s]
        for i in range(j, v.shape[1], width):
            x = v[a, i]
            if x != x:
                count = 0.0
                value = 0.0
                v[k, i] = np.nan
                continue
            count += 1.0
            if op == EMA:
                value = x if count == 1.0 else (1.0 - alpha) * value + alpha * x
                v[k, i] = value if count >= n else np.nan
            elif op == WILDER:
                if count <= n:
                    value += x
                    if count == n:
                        value /= n
                else:
                    value = (value * (n - 1) + x) * inverse
                v[k, i] = value if count >= n else np.nan
            elif op == WILDER_SUM:
                value = value + x if count < n else value - value * inverse + x
                v[k, i] = value if count >= n else np.nan
            else:
                value += x
                v[k, i] = value
        state[slot, s] = count
        state[slot + 1, s] = value


@njit(cache=True, error_model="numpy")
def run_program(code, params, state, ring, vals, syms):
    """Run every node of a program over ``vals`` (nodes, steps, selected symbols), in place.

    ``syms[j]`` is the engine column (in ``state`` and ``ring``) of the ``j``-th selected symbol.
    Input nodes must already hold their values.
    """
    width = vals.shape[2]
    v = vals.reshape(vals.shape[0], vals.shape[1] * width)  # value (t, j) sits at t * width + j
    for k in range(code.shape[0]):
        op = code[k, OP]
        a, b, c, n = code[k, IN_A], code[k, IN_B], code[k, IN_C], code[k, LENGTH]
        slot, row = code[k, STATE_AT], code[k, RING_AT]
        if op == INPUT:
            continue
        if op == CONST:
            v[k, :] = params[k, 0]
        elif op < LAG:
            _arithmetic(op, v, k, a, b, c, params[k, 0], params[k, 1])
        elif op == LAG:
            _lag(n, v, k, a, width, state, ring, slot, row, syms)
        elif op in (MAX, MIN):
            _rolling_extreme(op, n, v, k, a, width, state, ring, slot, row, syms)
        elif op < EMA:
            _rolling_sums(op, n, v, k, a, b, width, state, ring, slot, row, syms)
        else:
            _smooth(op, n, v, k, a, width, state, slot, syms)


@njit(cache=True)
def calendar(stamps, day_of_week, month):
    """Day of week (Monday 0) and month (1..12) of UTC int64-ns timestamps, in place.

    Month from a day count: the civil-from-days algorithm of H. Hinnant (proleptic Gregorian).
    """
    for i in range(stamps.shape[0]):
        if i > 0 and stamps[i] == stamps[i - 1]:  # symbols stepping together share a time
            day_of_week[i], month[i] = day_of_week[i - 1], month[i - 1]
            continue
        days = stamps[i] // 86_400_000_000_000
        day_of_week[i] = (days + 3) % 7  # 1970-01-01 was a Thursday
        z = days + 719_468
        day_of_era = z - (z // 146_097) * 146_097
        year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524
                       - day_of_era // 146_096) // 365
        day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
        shifted = (5 * day_of_year + 2) // 153  # months counted from March
        month[i] = shifted + 3 if shifted < 10 else shifted - 9
