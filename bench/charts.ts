// The report's charts as Vega-Lite specs, rendered to SVG strings in Node by Vega's headless view (no
// browser, no canvas: text widths are estimated). Why Vega-Lite: docs/decisions/bench-charts.md.
import { parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/** Series colours, in order (d3's category10, as the earlier hand-drawn charts had). */
const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
/** The plot area; the title, axes and legends come around it. */
const WIDTH = 448;
const HEIGHT = 294;

/** 1.2k for 1,200, 2.8 for 2.8: the figures of the tables, short enough for an axis or a bar. */
export const fmt = (n: number) => (n >= 1000 ? `${+(n / 1000).toFixed(1)}k` : `${+n.toFixed(1)}`);
/** The same as a Vega expression, for axis labels (Vega formats those itself). */
const FMT_EXPR =
  "datum.value >= 1000 ? format(datum.value / 1000, '.1~f') + 'k' : format(datum.value, '.1~f')";

/** A horizontal line across the plot for a target or a ceiling, named in the legend. */
export interface ReferenceLine {
  value: number;
  label: string;
  colour: string;
}

interface Scale {
  type: "log" | "linear";
  /** The axis from `domain[0]` to `domain[1]`, with a tick at each of `ticks`. */
  domain: [number, number];
  ticks: number[];
}

/** Powers of ten covering [lo, hi], for log axes. */
const decades = (lo: number, hi: number) => {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
};

/** Round steps from 0 to at least `hi`, at most about eight, for linear axes. */
const linearTicks = (hi: number) => {
  const step =
    [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000].find((s) => hi / s <= 8) ?? 10_000;
  return Array.from({ length: Math.ceil(hi / step) + 1 }, (_, i) => i * step);
};

/**
 * An axis over `values`: whole decades (log, from at least 0.1) or round steps from 0 (linear). Vega's
 * own nice domains would do, but these keep the ticks of the earlier charts, and `headroom` leaves room
 * above the highest value for a label written upright on its bar.
 */
const scaleOf = (values: number[], type: Scale["type"], headroom = 1): Scale => {
  const positive = values.filter((v) => v > 0);
  const ticks =
    type === "log"
      ? decades(Math.max(0.1, Math.min(...positive)), Math.max(...positive) * headroom)
      : linearTicks(Math.max(...values) * headroom);
  return { type, domain: [ticks[0] as number, ticks.at(-1) as number], ticks };
};

const axisOf = (title: string, scale: Scale) => ({
  title,
  values: scale.ticks,
  labelExpr: FMT_EXPR,
  gridColor: "#eee",
});

const scaleSpec = (scale: Scale) => ({ type: scale.type, domain: scale.domain, nice: false, clamp: true });

/**
 * The reference lines across the plot, dashed, each named in a legend of their own. The last layer: Vega-Lite
 * lists a layer's legends in the order of its layers, and the series' legend comes first.
 */
const referenceLayer = (lines: ReferenceLine[]) => ({
  data: { values: lines },
  mark: { type: "rule" as const, strokeWidth: 1.5, strokeDash: [6, 3] },
  encoding: {
    y: { field: "value", type: "quantitative" as const },
    stroke: {
      field: "label",
      type: "nominal" as const,
      scale: { domain: lines.map((l) => l.label), range: lines.map((l) => l.colour) },
      legend: { title: null, symbolDash: [4, 2], symbolType: "stroke", labelFontSize: 10, orient: "right" },
    },
  },
});

const seriesColour = (field: string, names: string[]) => ({
  field,
  type: "nominal" as const,
  scale: { domain: names, range: COLOURS.slice(0, Math.max(1, names.length)) },
  legend: { title: null, orient: "right" as const },
});

const frame = (title: string, layer: unknown[]): TopLevelSpec =>
  ({
    title,
    width: WIDTH,
    height: HEIGHT,
    background: "white",
    config: {
      font: "sans-serif",
      view: { stroke: null },
      title: { fontSize: 15, anchor: "start", frame: "group", offset: 14 },
      axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: "normal", titlePadding: 12 },
      legend: { labelFontSize: 11, labelLimit: 300, symbolType: "square" },
    },
    resolve: { legend: { color: "independent", stroke: "independent" } },
    layer,
  }) as TopLevelSpec;

/** The SVG of a Vega-Lite spec, ending in a newline as the files in bench/results/ do. */
export const renderSvg = async (spec: TopLevelSpec) =>
  `${await new View(parse(compile(spec).spec), { renderer: "none" }).toSVG()}\n`;

interface Series {
  name: string;
  points: { offered: number; achieved: number }[];
}

/**
 * Achieved vs offered events/s per series, log–log, with the y = x line (everything offered was
 * carried) and the reference lines (targets, Kafka's own ceiling).
 */
export const throughputChart = (series: Series[], lines: ReferenceLine[]) => {
  const all = [
    ...series.flatMap((s) => s.points.flatMap((p) => [p.offered, p.achieved])),
    ...lines.map((l) => l.value),
  ];
  const scale = scaleOf(all, "log");
  const [lo, hi] = scale.domain;
  const points = series.flatMap((s) => s.points.map((p, step) => ({ series: s.name, step, ...p })));
  return frame("Throughput against offered load", [
    {
      data: { values: [{ lo, hi }] },
      mark: { type: "rule", color: "#bbb", strokeDash: [4, 4] },
      encoding: {
        x: {
          field: "lo",
          type: "quantitative",
          scale: scaleSpec(scale),
          axis: axisOf("offered load, events/s (open loop, log scale)", scale),
        },
        y: {
          field: "lo",
          type: "quantitative",
          scale: scaleSpec(scale),
          axis: axisOf("achieved events/s (log scale)", scale),
        },
        x2: { field: "hi" },
        y2: { field: "hi" },
      },
    },
    {
      data: { values: points },
      mark: { type: "line", strokeWidth: 2, point: { size: 30, filled: true } },
      encoding: {
        x: { field: "offered", type: "quantitative" },
        y: { field: "achieved", type: "quantitative" },
        color: seriesColour(
          "series",
          series.map((s) => s.name),
        ),
        order: { field: "step" },
      },
    },
    referenceLayer(lines),
  ]);
};

interface BarGroup {
  label: string;
  values: [string, number][];
}

/**
 * Grouped bars, one group per label and one bar per series, each value written upright above its bar
 * so that neighbours never overlap; reference lines across.
 */
export const barChart = (
  title: string,
  axes: { x: string; y: string; scale: Scale["type"] },
  groups: BarGroup[],
  lines: ReferenceLine[] = [],
) => {
  const values = [...groups.flatMap((g) => g.values.map(([, v]) => v)), ...lines.map((l) => l.value)];
  // A label is about 30 px long: a third of a decade on a log axis of three, a tenth of a linear one.
  const scale = scaleOf(values, axes.scale, axes.scale === "log" ? 2.5 : 1.15);
  const names = [...new Set(groups.flatMap((g) => g.values.map(([n]) => n)))];
  const bars = groups.flatMap((g) =>
    g.values.map(([series, value]) => ({ group: g.label, series, value, text: fmt(value) })),
  );
  const x = {
    field: "group",
    type: "nominal",
    sort: groups.map((g) => g.label),
    scale: { paddingInner: 0.2, paddingOuter: 0.1 },
    axis: { title: axes.x, labelAngle: -20, labelFontSize: 10, domain: false, ticks: false },
  };
  const xOffset = { field: "series", type: "nominal", sort: names, scale: { paddingInner: 0.05 } };
  const y = {
    field: "value",
    type: "quantitative",
    scale: scaleSpec(scale),
    axis: axisOf(`${axes.y}${axes.scale === "log" ? " (log scale)" : ""}`, scale),
  };
  return frame(title, [
    {
      data: { values: bars },
      layer: [
        { mark: "bar", encoding: { x, xOffset, y, color: seriesColour("series", names) } },
        {
          mark: {
            type: "text",
            angle: 270,
            align: "left",
            baseline: "middle",
            dx: 3,
            fontSize: 9,
            color: "#333",
          },
          encoding: { x, xOffset, y, text: { field: "text" } },
        },
      ],
    },
    referenceLayer(lines),
  ]);
};
