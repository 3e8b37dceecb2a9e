import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createMetrics } from "../../../src/relay/metrics.ts";
import { requestRecorder } from "../../../src/relay/request-log.ts";

/** A pino logger whose lines are kept, parsed. */
const capturedLog = () => {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { log: pino({ level: "info" }, stream), lines };
};

afterEach(() => vi.useRealTimers());

describe("request logs and durations", () => {
  it("logs requests up to the budget a second, every failure, and how many it left out", async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ["Date"] });
    const { log, lines } = capturedLog();
    const metrics = createMetrics();
    const record = requestRecorder(metrics, log, 2);
    const ok = { route: "/api/v1/behaviors/track", method: "POST", status: "200", seconds: 0.004 };
    for (let i = 0; i < 5; i++) record({ ...ok, requestId: `r${i}`, tenant: "mymx" });
    record({ ...ok, status: "503" });
    record({ route: "TrackEvents", method: "grpc", status: "unavailable", seconds: 0.2 });
    vi.setSystemTime(1_001_000);
    record(ok);
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map((l) => [l.msg, l.status ?? l.skipped])).toEqual([
      ["request", "200"],
      ["request", "200"],
      ["request", "503"],
      ["request", "unavailable"],
      ["requests not logged in the last second", 3],
      ["request", "200"],
    ]);
    expect(lines[0]).toMatchObject({
      route: "/api/v1/behaviors/track",
      requestId: "r0",
      tenant: "mymx",
      duration_ms: 4,
    });
    const histogram = await metrics.requestDuration.get();
    const count = (labels: Partial<Record<"route" | "method" | "status", string>>) =>
      histogram.values.find(
        (v) =>
          v.metricName === "relay_request_duration_seconds_count" &&
          Object.entries(labels).every(([k, value]) => v.labels[k as keyof typeof labels] === value),
      )?.value;
    expect(count({ route: "/api/v1/behaviors/track", status: "200" })).toBe(6);
    expect(count({ route: "TrackEvents", method: "grpc", status: "unavailable" })).toBe(1);
  });
});
