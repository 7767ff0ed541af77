"""Trading costs: slippage and commission, both a fraction of the traded notional.

A fill is recorded at the market price (the bar's open or close); what the trade really paid on
top of that price is its cost, ``|quantity| x price x (slippage + commission)``. One round trip
of notional N therefore costs exactly ``2 x (slippage + commission) x N`` at an unchanged price.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CostModel:
    slippage_bps: float = 10.0  # price moved against each fill, in basis points of the price
    commission: float = 0.001  # broker fee as a fraction of traded notional (0.1 %)

    @property
    def rate(self) -> float:
        """Cost of trading one unit of notional, one way."""
        return self.slippage_bps / 10_000 + self.commission

    @property
    def round_trip(self) -> float:
        """Cost of opening and closing one unit of notional (what the signal rule must beat)."""
        return 2 * self.rate

    def cost(self, quantity: float, price: float) -> float:
        """Money paid beyond ``quantity x price`` for one fill."""
        return abs(quantity) * price * self.rate
