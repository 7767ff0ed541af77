"""The streaming feature engine and what is built on it.

Indicator kernels, the engine (batch and streaming), market context, snapshots, labels,
sequence windows, walk-forward splits, feature selection and the look-ahead check. Bars come
from ``marketdata``; everything here depends only on numpy, pandas and numba, so training,
serving and backtesting can all share it.
"""
