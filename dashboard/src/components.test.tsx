import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { Heatmap } from "./components/Heatmap";
import { JobRow } from "./components/Jobs";
import { LineChart } from "./components/LineChart";
import { SideBySide } from "./components/ui";
import { MonthlyTable } from "./pages/BacktestPage";

afterEach(cleanup);

describe("components", () => {
  it("draws one heat cell per bar, the largest weight darkest", () => {
    render(<Heatmap weights={[0.1, 0.5, 0.4]} labels={["d1", "d2", "d3"]} />);
    const cells = screen.getByTestId("attention-heatmap").querySelectorAll(".heatcell");
    expect(cells).toHaveLength(3);
    const alpha = (cell: Element) => Number(cell.getAttribute("data-level"));
    expect(alpha(cells[1])).toBeGreaterThan(alpha(cells[2]));
    expect(alpha(cells[2])).toBeGreaterThan(alpha(cells[0]));
    expect(alpha(cells[1])).toBe(1);
  });

  it("draws a polyline per line and counts its points", () => {
    render(<LineChart testId="chart" lines={[
      { name: "train", color: "#00f", points: [[1, 2], [2, 1], [3, 0.5]] },
      { name: "validation", color: "#f00", points: [[1, 3]] },
    ]} />);
    const chart = screen.getByTestId("chart");
    expect(chart.getAttribute("data-points")).toBe("4");
    expect(chart.querySelectorAll("polyline")).toHaveLength(2);
  });

  it("waits instead of drawing an empty chart", () => {
    render(<LineChart testId="chart" lines={[{ name: "train", color: "#00f", points: [] }]} />);
    expect(screen.getByTestId("chart").textContent).toContain("waiting");
  });

  it("shows a failed job's error line and its log on demand", () => {
    render(<JobRow job={{ id: "j1", kind: "train", summary: "train simplex", state: "failed", progress: 0.3,
      log_tail: ["step 1", "error: no bars"], error: "error: no bars", result: null }} />);
    expect(screen.getByRole("alert").textContent).toBe("error: no bars");
    expect(screen.queryByText(/step 1/)).toBeNull();
    fireEvent.click(screen.getByText("log"));
    expect(screen.getByText(/step 1/)).toBeTruthy();
    expect(screen.queryByText("cancel")).toBeNull(); // only a running job can be cancelled
  });

  it("formats metrics side by side and highlights the main run", () => {
    render(<SideBySide runs={["hybrid", "always_up"]} main="hybrid"
      rows={[{ metric: "total_return", values: [0.1, null] }, { metric: "sharpe", values: [1.234, 0.5] }]} />);
    const table = screen.getByTestId("metrics-vs-baselines");
    expect(table.querySelectorAll("td.main")).toHaveLength(2);
    expect(table.textContent).toContain("10.0%");
    expect(table.textContent).toContain("1.234");
    expect(table.textContent).toContain("–");
  });

  it("lays monthly returns out by year", () => {
    render(<MonthlyTable rows={[{ year: 2015, month: 3, return: 0.02 }, { year: 2016, month: 1, return: -0.01 }]} />);
    const rows = screen.getByTestId("monthly-returns").querySelectorAll("tbody tr");
    expect(rows).toHaveLength(2);
    expect(rows[0].children[3].textContent).toBe("2.0%");
    expect(rows[1].children[1].textContent).toBe("-1.0%");
  });
});
