"""Trading policy: how a forecast becomes a target position (serving and the backtest share it)."""
