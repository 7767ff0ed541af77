"""Market data, the bar store and the streaming feature engine.

Everything here depends only on numpy, pandas and pyarrow (vendor clients live in
``features.sources`` alone), so training, serving and backtesting can all share it.
"""
