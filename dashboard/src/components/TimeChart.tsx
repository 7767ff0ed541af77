// lightweight-charts (TradingView) for every time series: equity, drawdown, candles + trades.
import {
  AreaSeries,
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  LineSeries,
  type IChartApi,
  type SeriesMarker,
  type Time,
  type UTCTimestamp,
} from "lightweight-charts";
import { useEffect, useRef } from "react";
import type { Marker } from "../format";

export interface Candle {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
}

export type SeriesSpec =
  | { kind: "line" | "area"; data: { time: number; value: number }[]; color: string; title?: string }
  | { kind: "candles"; data: Candle[]; markers?: Marker[] };

interface Props {
  series: SeriesSpec[];
  height?: number;
  testId: string;
}

export function TimeChart({ series, height = 260, testId }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApi | null>(null);

  useEffect(() => {
    const element = box.current!;
    const made = createChart(element, {
      height,
      autoSize: true,
      layout: {
        attributionLogo: false, // a link to an outside site; the app stays on this server
        background: { type: ColorType.Solid, color: "#ffffff" },
        textColor: "#334",
      },
      grid: { vertLines: { color: "#eef" }, horzLines: { color: "#eef" } },
      timeScale: { timeVisible: false },
    });
    chart.current = made;
    return () => {
      made.remove();
      chart.current = null;
    };
  }, [height]);

  useEffect(() => {
    const made = chart.current;
    if (!made) return;
    const added = series.map((spec) => {
      if (spec.kind === "candles") {
        const candles = made.addSeries(CandlestickSeries, {
          upColor: "#1f9d55",
          downColor: "#cc3333",
          wickUpColor: "#1f9d55",
          wickDownColor: "#cc3333",
          borderVisible: false,
        });
        candles.setData(spec.data.map((c) => ({ ...c, time: c.time as UTCTimestamp })));
        if (spec.markers?.length) {
          createSeriesMarkers(
            candles,
            spec.markers.map((m) => ({ ...m, time: m.time as UTCTimestamp }) as SeriesMarker<Time>),
          );
        }
        return candles;
      }
      const options = { color: spec.color, lineWidth: 2 as const, title: spec.title ?? "" };
      const line =
        spec.kind === "area"
          ? made.addSeries(AreaSeries, {
              ...options,
              lineColor: spec.color,
              topColor: `${spec.color}55`,
              bottomColor: `${spec.color}08`,
            })
          : made.addSeries(LineSeries, options);
      line.setData(spec.data.map((p) => ({ ...p, time: p.time as UTCTimestamp })));
      return line;
    });
    made.timeScale().fitContent();
    const points = series.reduce((n, s) => n + s.data.length, 0);
    box.current?.setAttribute("data-ready", String(points));
    // the first render with data, for the page-load benchmark (benchmarks/dashboard.py)
    if (points && !performance.getEntriesByName(`chart-ready:${testId}`).length) {
      requestAnimationFrame(() => performance.mark(`chart-ready:${testId}`));
    }
    return () => {
      // on unmount the chart itself is already gone (the effect above cleaned up first)
      if (chart.current === made) added.forEach((s) => made.removeSeries(s));
    };
  }, [series, testId]);

  return <div className="chart" ref={box} data-testid={testId} style={{ height }} />;
}
