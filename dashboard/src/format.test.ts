import { describe, expect, it } from "vitest";
import {
  heatLevels, latestValidation, lossCurves, money, monthlyGrid, parseOverrides, pct,
  returnColour, sideBySide, toLine, tradeMarkers, type Trade,
} from "./format";
import { pageFromHash } from "./App";

describe("formatting", () => {
  it("writes money, percentages and missing values", () => {
    expect(money(-1234.5)).toBe("-$1,235");
    expect(pct(0.1234)).toBe("12.3%");
    expect(pct(null)).toBe("–");
    expect(money(Number.NaN)).toBe("–");
  });
});

describe("chart data", () => {
  it("drops points that do not move forward in time (lightweight-charts refuses them)", () => {
    expect(toLine([[1, 5], [2, 6], [2, 7], [1, 8], [3, 9]])).toEqual([
      { time: 1, value: 5 }, { time: 2, value: 6 }, { time: 3, value: 9 },
    ]);
  });

  it("numbers loss points across folds so the curve keeps going", () => {
    const lines = [
      { fold: 2015, epoch: 0, train_loss: 1.0, val_loss: 1.4 },
      { fold: 2015, epoch: 1, train_loss: 0.9, val_loss: null },
      { fold: 2016, epoch: 0, train_loss: 0.8, val_loss: 1.2, val_accuracy_1: 0.55 },
    ];
    const curves = lossCurves(lines);
    expect(curves.train).toEqual([[1, 1.0], [2, 0.9], [3, 0.8]]);
    expect(curves.validation).toEqual([[1, 1.4], [3, 1.2]]);
    expect(latestValidation(lines)).toEqual([["val_loss", 1.2], ["val_accuracy_1", 0.55]]);
  });

  it("puts monthly returns on a year grid with a compounded year total", () => {
    const grid = monthlyGrid([
      { year: 2016, month: 2, return: 0.1 },
      { year: 2015, month: 12, return: -0.5 },
      { year: 2016, month: 1, return: 0.1 },
    ]);
    expect(grid.map((row) => row.year)).toEqual([2015, 2016]);
    expect(grid[1].months.slice(0, 3)).toEqual([0.1, 0.1, null]);
    expect(grid[1].total).toBeCloseTo(0.21, 10);
    expect(grid[0].total).toBeCloseTo(-0.5, 10);
  });

  it("colours gains green and losses red, stronger when larger", () => {
    expect(returnColour(0.05)).toContain("34, 160, 90");
    expect(returnColour(-0.05)).toContain("210, 60, 60");
    expect(returnColour(0.2)).toBe("rgba(34, 160, 90, 0.90)");
    expect(returnColour(null)).toBe("transparent");
  });

  it("scales attention to its largest weight", () => {
    expect(heatLevels([0.1, 0.4, 0.2])).toEqual([0.25, 1, 0.5]);
    expect(heatLevels([0, 0])).toEqual([0, 0]);
  });

  it("marks one symbol's buys below and sells above the bar, in time order", () => {
    const trade = (time: number, symbol: string, side: string): Trade =>
      ({ time, symbol, side, quantity: 1, price: 1, cost: 0, reason: "signal" });
    const markers = tradeMarkers([trade(30, "AAPL", "sell"), trade(10, "AAPL", "buy"), trade(20, "SPY", "buy")], "AAPL");
    expect(markers.map((m) => [m.time, m.shape, m.position])).toEqual([
      [10, "arrowUp", "belowBar"], [30, "arrowDown", "aboveBar"],
    ]);
  });

  it("lines runs up side by side per metric, null where one lacks it", () => {
    const rows = sideBySide({ hybrid: { sharpe: 1.2 }, always_up: { sharpe: 0.3, trades: 2 } }, ["sharpe", "trades"]);
    expect(rows).toEqual([
      { metric: "sharpe", values: [1.2, 0.3] },
      { metric: "trades", values: [null, 2] },
    ]);
  });

  it("splits the overrides box and routes unknown hashes to the dashboard", () => {
    expect(parseOverrides("patience=5\n\n optim.max_epochs=2, a=b")).toEqual(["patience=5", "optim.max_epochs=2", "a=b"]);
    expect(pageFromHash("#/models")).toBe("models");
    expect(pageFromHash("#/nope")).toBe("dashboard");
  });
});
