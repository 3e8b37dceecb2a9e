// The quality counts above their store: bounded labels, what each verdict adds, flushing, and the
// report's arithmetic.
import { MongoNetworkTimeoutError, MongoServerSelectionError } from "mongodb";
import { pino } from "pino";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { emptyCounts, type IssueCell, type QualityCell, qualityReportOf } from "../../../src/core/index.ts";
import { QualityRecorder } from "../../../src/relay/quality.ts";

const log = pino({ level: "silent" });
const HOUR = 3_600_000;
const NOW = 1_800_000_000_000;

/** A failure before the write left: no server could be selected. */
const notSent = () =>
  // The driver builds it from the topology it could not select from; only `error` is read of that.
  new MongoServerSelectionError("connect ECONNREFUSED 127.0.0.1:27017", {
    error: undefined,
  } as unknown as ConstructorParameters<typeof MongoServerSelectionError>[1]);

const refusal = (path: string, code: "invalid_value" | "required") => ({
  ok: false as const,
  code: "invalid_event" as const,
  message: "",
  errors: [{ path, code, message: `${path} is wrong` }],
  warnings: [],
});

describe("quality counts", () => {
  it("keeps Prometheus series and stored cells bounded whatever tenants, scenarios and fields arrive", async () => {
    const registry = new Registry();
    const stored: { cells: QualityCell[]; issues: IssueCell[] } = { cells: [], issues: [] };
    const quality = new QualityRecorder({
      registry,
      log,
      now: () => NOW,
      bounds: { tenants: 3, scenarios: 2, fields: 2, producers: 1 },
      store: {
        add: async (cells, issues) => {
          stored.cells.push(...cells);
          stored.issues.push(...issues);
        },
      },
    });
    // Ten thousand tenants, each with five scenarios and five failing fields.
    for (let t = 0; t < 10_000; t++) {
      const inputs = Array.from({ length: 5 }, (_, s) => ({ tenant_id: `t${t}`, scenario_id: `s${s}` }));
      quality.call(
        "relay",
        inputs,
        inputs.map((_, s) => refusal(`f${s}`, "required")),
        3,
      );
    }
    const series = (await registry.getMetricsAsJSON()).flatMap((m) =>
      m.values.map((v) => ({ name: m.name, ...v })),
    );
    const received = series.filter((s) => s.name === "quality_events_received_total");
    // 3 tenants × (2 scenarios + other) + other tenants as one.
    expect(received).toHaveLength(3 * 3 + 1);
    expect(received.reduce((sum, s) => sum + s.value, 0)).toBe(50_000);
    expect(received.find((s) => s.labels.tenant === "other")?.value).toBe(9_997 * 5);
    const issues = series.filter((s) => s.name === "quality_field_issues_total");
    expect(issues).toHaveLength(3 * 3 + 1);
    expect(new Set(issues.map((s) => s.labels.field))).toEqual(new Set(["f0", "f1", "other"]));

    await quality.flush();
    // Stored per tenant (they are real tenants), but at most 2 scenarios + other and 2 fields + other each.
    const ofTenant = (id: string) =>
      stored.cells.filter((c) => (c as QualityCell & { tenantId: string }).tenantId === id);
    expect(
      ofTenant("t42")
        .map((c) => c.scenario)
        .sort(),
    ).toEqual(["", "other", "s0", "s1"]);
    expect(
      stored.issues.filter((i) => (i as IssueCell & { tenantId: string }).tenantId === "t42"),
    ).toHaveLength(3);
  });

  it("counts a call whose events span 200 tenants under the same series as 200 calls would", async () => {
    const registry = new Registry();
    const quality = new QualityRecorder({
      registry,
      log,
      now: () => NOW,
      bounds: { tenants: 3, scenarios: 2, fields: 2, producers: 1 },
    });
    const inputs = Array.from({ length: 200 }, (_, t) => ({ tenant_id: `t${t}`, scenario_id: "s0" }));
    quality.call(
      "relay",
      inputs,
      inputs.map((_, t) => (t % 2 === 0 ? refusal("f0", "required") : { ok: true, warnings: [] })),
      3,
    );
    const series = (await registry.getMetricsAsJSON()).flatMap((m) =>
      m.values.map((v) => ({ name: m.name, ...v })),
    );
    const of = (name: string, tenant: string) =>
      series.filter((s) => s.name === name && s.labels.tenant === tenant).reduce((n, s) => n + s.value, 0);
    expect(of("quality_events_received_total", "other")).toBe(197);
    expect(of("quality_events_received_total", "t1")).toBe(1);
    expect(of("quality_events_accepted_total", "other")).toBe(99);
    expect(of("quality_events_refused_total", "other")).toBe(98);
    expect(of("quality_field_issues_total", "other")).toBe(98);
    expect(of("quality_field_issues_total", "t0")).toBe(1);
  });

  it("counts each verdict once, skips forbidden and tenant-less events, and keeps counts a failed flush could not store", async () => {
    let fail = true;
    const stored: QualityCell[] = [];
    const quality = new QualityRecorder({
      registry: new Registry(),
      log,
      now: () => NOW,
      store: {
        add: async (cells) => {
          if (fail) throw notSent();
          stored.push(...cells);
        },
      },
    });
    const event = { tenant_id: "shop", scenario_id: "feed" };
    const warning = {
      path: "scenario_data.video_data.duration",
      code: "invalid_type" as const,
      message: "m",
    };
    quality.call(
      "edge",
      [event, event, event, { tenant_id: "other" }, 42],
      [
        { ok: true, eventId: "e1", warnings: [] },
        { ok: true, eventId: "e2", warnings: [warning] },
        { ok: false, code: "sink_unavailable", errors: [], warnings: [] },
        { ok: false, code: "forbidden", errors: [], warnings: [] },
        refusal("", "required"),
      ],
      30,
    );
    await quality.flush();
    expect(stored).toEqual([]);
    fail = false;
    quality.spooled("user-behaviors-shop", 1);
    quality.spooled("user-behaviors-shop-rejected", 5);
    await quality.flush();
    const feed = stored.find((c) => c.scenario === "feed");
    expect(feed?.counts).toMatchObject({ received: 3, accepted: 2, warned: 1, refused: 0, failed: 1 });
    expect(feed?.counts.reasons).toEqual({ sink_unavailable: 1 });
    // Spooled events are the write path's, so the relay's; the call's answer time is its source's.
    expect(stored.find((c) => c.scenario === "" && c.source === "relay")?.counts.spooled).toBe(1);
    const call = stored.find((c) => c.scenario === "" && c.source === "edge");
    expect(call?.counts.answers[3]).toBe(1); // 30 ms: the fourth bucket, ≤ 50 ms
  });

  it("keeps for the next flush only the part a flush could not store, so nothing is counted twice", async () => {
    const stored: { cells: QualityCell[]; issues: IssueCell[] } = { cells: [], issues: [] };
    let issuesFail = true;
    const quality = new QualityRecorder({
      registry: new Registry(),
      log,
      now: () => NOW,
      store: {
        // As the repository writes them: the counts first, then the field tallies, which fail once.
        add: async (cells, issues) => {
          stored.cells.push(...cells);
          if (issues.length > 0 && issuesFail) throw notSent();
          stored.issues.push(...issues);
        },
      },
    });
    const event = { tenant_id: "shop", scenario_id: "feed" };
    quality.call("relay", [event], [refusal("item_id", "required")], 3);
    await quality.flush();
    issuesFail = false;
    await quality.flush();
    const received = stored.cells.reduce((sum, c) => sum + c.counts.received, 0);
    expect(received).toBe(1);
    expect(stored.issues.map((i) => [i.path, i.count])).toEqual([["item_id", 1]]);
  });

  it("sends no part again that may have reached the store, and counts its events as unconfirmed", async () => {
    const registry = new Registry();
    const sent: QualityCell[][] = [];
    let answerLost = true;
    const quality = new QualityRecorder({
      registry,
      log,
      now: () => NOW,
      store: {
        // The write is sent (and, for all we know, applied) but its answer is lost to a socket timeout.
        add: async (cells) => {
          if (cells.length > 0) sent.push([...cells]);
          if (answerLost) throw new MongoNetworkTimeoutError("connection timed out");
        },
      },
    });
    const event = { tenant_id: "shop", scenario_id: "feed" };
    quality.call(
      "relay",
      [event, event],
      [refusal("item_id", "required"), refusal("item_id", "required")],
      3,
    );
    await quality.flush();
    expect(quality.pending).toBe(0);
    answerLost = false;
    await quality.flush();
    expect(sent).toHaveLength(1); // never re-sent
    const unconfirmed = await registry.getSingleMetric("quality_events_unconfirmed_total")?.get();
    expect(unconfirmed?.values[0]?.value).toBe(2);
  });

  it("reports rates, the four targets, the top fields and the trend from stored cells", () => {
    const counts = (over: Partial<QualityCell["counts"]>): QualityCell["counts"] => ({
      ...emptyCounts(),
      ...over,
    });
    const cell = (
      hour: number,
      source: QualityCell["source"],
      over: Partial<QualityCell["counts"]>,
      producer = "",
    ) => ({
      hour,
      source,
      scenario: "feed",
      producer,
      validated: producer !== "etl",
      counts: counts(over),
    });
    const thisHour = Math.floor(NOW / HOUR) * HOUR;
    const report = qualityReportOf({
      tenantId: "shop",
      window: "24h",
      now: NOW,
      cells: [
        cell(thisHour, "relay", {
          received: 96,
          accepted: 90,
          warned: 9,
          refused: 4,
          failed: 2,
          spooled: 9,
          reasons: { invalid_event: 4, overloaded: 2 },
          answers: [50, 48, 1, 0, 0, 1, 0, 0, 0, 0, 0],
        }),
        cell(thisHour - HOUR, "edge", { received: 4, accepted: 4 }),
        cell(thisHour - 30 * HOUR, "relay", { received: 1000, accepted: 1000 }), // outside the window
        cell(thisHour, "audit", { received: 10, accepted: 7, refused: 3 }, "etl"),
      ],
      issues: [
        {
          hour: thisHour,
          source: "relay",
          path: "item_id",
          code: "required",
          severity: "error",
          count: 4,
          example: { event_id: "e9", event: {} },
        },
        {
          hour: thisHour,
          source: "audit",
          path: "item_id",
          code: "required",
          severity: "error",
          count: 3,
          example: { event_id: null, event: {} },
        },
      ],
    });
    expect(report.events).toEqual({ received: 100, accepted: 94, warned: 9, refused: 4, failed: 2 });
    expect(report.pass_rate).toBe(0.959184); // 94 / 98
    expect(report.targets.reported_successfully).toEqual({ value: 0.979167, target: 0.999, met: false });
    expect(report.targets.kafka_writes_successful.value).toBe(0.904255); // (94 - 9) / 94
    expect(report.targets.answer_p99_ms).toEqual({ value: 25, target: 100, met: true }); // 99 of 100 calls ≤ 25 ms
    expect(report.top_fields).toEqual([
      {
        path: "item_id",
        code: "required",
        severity: "error",
        count: 4,
        example: { event_id: "e9", event: {} },
      },
    ]);
    expect(report.direct_writers).toEqual([
      { producer: "etl", validated: false, received: 10, passed: 7, warned: 0, failed: 3 },
    ]);
    expect(report.trend.map((h) => h.received)).toEqual([4, 96]);
  });
});
