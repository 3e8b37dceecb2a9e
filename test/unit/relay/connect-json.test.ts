// Connect JSON clients hear about fields the event has none of as HTTP clients do: a warning naming
// each, the field dropped. The relay's Connect handler on a real HTTP server; Kafka in memory.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_EVENTS } from "../../../src/core/index.ts";
import type { EventRecord, RecordSink } from "../../../src/kafka/records.ts";
import { EnvKeyStore } from "../../../src/relay/auth.ts";
import { InMemoryConfigSource } from "../../../src/relay/config-source.ts";
import { EdgeCallVerifier } from "../../../src/relay/edge-calls.ts";
import { IngestService } from "../../../src/relay/ingest.ts";
import { createMetrics } from "../../../src/relay/metrics.ts";
import { connectHandler } from "../../../src/relay/rpc/connect-json.ts";
import { behaviorHandlers, connectRoutes } from "../../../src/relay/rpc/service.ts";
import { fixedEnvironment } from "../../support/core.ts";

const records: EventRecord[] = [];
const sink: RecordSink = {
  kafkaAvailable: true,
  accepting: true,
  write: async (written) => void records.push(...written),
  close: async () => {},
};
const ingest = new IngestService({
  configs: new InMemoryConfigSource(),
  keys: new EnvKeyStore(["sk_a=mymx"]),
  sink,
  metrics: createMetrics(),
  log: pino({ level: "silent" }),
  env: fixedEnvironment(),
});
const handlers = behaviorHandlers(ingest, new EdgeCallVerifier([]));
const server = createServer(
  connectHandler({
    jsonRoutes: connectRoutes(handlers, "json"),
    binaryRoutes: connectRoutes(handlers, "binary"),
    readMaxBytes: 1 << 20,
  }),
);
let base = "";
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The event as a Connect JSON client writes it (protobuf JSON names), with two fields of its own. */
const { event_id: _id, timestamp: _ts, ...example } = EXAMPLE_EVENTS.video_data;
const misspelt = {
  tenantId: "mymx",
  scenarioId: example.scenario_id,
  userId: example.user_id,
  itemId: example.item_id,
  actionType: "ACTION_TYPE_PLAY_END",
  context: { deviceType: "DEVICE_TYPE_MOBILE", screen: "390x844" },
  colour: "red",
};
const warnings = [
  expect.objectContaining({ path: "colour", code: "unknown_field" }),
  expect.objectContaining({ path: "context.screen", code: "unknown_field" }),
];
/** The unknown-field warnings of an answer (the tenant has no config: that is warned about too). */
const unknownOf = (answer: unknown) =>
  ((answer ?? []) as { code: string }[]).filter((w) => w.code === "unknown_field");

const call = async (method: string, body: unknown) => {
  const response = await fetch(`${base}/recommender.v1.BehaviorService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk_a" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe("Connect JSON and unknown fields", () => {
  it("TrackEvent warns about each field the event has none of, and drops it, as HTTP does", async () => {
    const answer = await call("TrackEvent", { event: misspelt });
    expect(answer.status).toBe(200);
    expect(unknownOf(answer.body.validationWarnings)).toEqual(warnings);
    const stored = JSON.parse(records.at(-1)?.value ?? "{}");
    expect(stored).not.toHaveProperty("colour");
    expect(stored.context).not.toHaveProperty("screen");
  });

  it("TrackEvents and ValidateEvent warn per event", async () => {
    const batch = await call("TrackEvents", { events: [{ ...misspelt, colour: undefined }, misspelt] });
    expect(batch.status).toBe(200);
    const results = batch.body.results as { validationWarnings?: unknown[] }[];
    expect(unknownOf(results[0]?.validationWarnings)).toEqual([warnings[1]]);
    expect(unknownOf(results[1]?.validationWarnings)).toEqual(warnings);
    const checked = await call("ValidateEvent", { event: misspelt });
    expect(checked.body.success).toBe(true);
    expect(unknownOf(checked.body.validationWarnings)).toEqual(warnings);
  });

  it("refuses an unknown scenario data member as HTTP does", async () => {
    const answer = await call("TrackEvent", { event: { ...misspelt, scenarioData: { teleportData: {} } } });
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(/scenario_data.teleportData/);
  });
});
