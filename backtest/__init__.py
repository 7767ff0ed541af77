"""The event-driven backtester: costs, risk limits, metrics, reports and plots."""
