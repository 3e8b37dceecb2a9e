// The contract across doors, for the one door the unit contract test cannot reach without Kafka: the
// same events through the relay's REST batch call and through the Kafka-direct tracker, with the same
// config, get the same answer per event — accepted or refused, the error code, message, field errors,
// warnings and whether to retry. Real Kafka and a MongoDB-wire server.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS } from "../../src/core/index.ts";
import { InMemoryConfigSource } from "../../src/relay/config-source.ts";
import { KafkaTracker, type TrackedEvent, type TrackOutcome } from "../../src/sdk/kafka-tracker.ts";
import { configFor } from "../support/core.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const brokers = inject("kafkaBrokers");
const tenant = uniqueName("contract");
const KEY = `svc_contract_${tenant}`;
const config = configFor("video_data", { tenant_id: tenant, scenario_id: "vlog_feed" });

const { event_id: _id, timestamp: _ts, ...valid } = { ...EXAMPLE_EVENTS.video_data, tenant_id: tenant };
const INPUTS: Record<string, unknown> = {
  "a valid event": valid,
  "an event with a warning": { ...valid, scenario_data: { video_data: { duration: "abc" } } },
  "an invalid event": { ...valid, user_id: undefined, action_type: "teleport" },
  "a value that is not an event": 42,
  "a string over its limit": { ...valid, extra_data: { note: "x".repeat(40_000) } },
  "an event over 32 KiB": {
    ...valid,
    extra_data: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`note_${i}`, "x".repeat(4000)])),
  },
  "text that is not Unicode": { ...valid, extra_data: { note: "\ud800" } },
  "structure nested too deep": { ...valid, extra_data: JSON.parse(`${"[".repeat(100)}${"]".repeat(100)}`) },
};

/** One event's answer, as both doors can say it: REST's batch result names. */
const restShaped = (outcome: TrackOutcome) =>
  outcome.ok
    ? { success: true, validation_warnings: outcome.warnings }
    : {
        success: false,
        error_code: outcome.code,
        message: outcome.message,
        errors: outcome.errors.map(({ path, code, message }) => ({ path, code, message })),
        validation_warnings: outcome.warnings,
        retryable: outcome.retryable,
      };

describe("the event contract: the relay's REST door and the Kafka-direct tracker answer alike", () => {
  let relay: Awaited<ReturnType<typeof startTestRelay>>;
  let tracker: KafkaTracker;

  beforeAll(async () => {
    const configs = new InMemoryConfigSource();
    configs.put(config);
    relay = await startTestRelay(brokers, [`${KEY}=*`], { configs });
    tracker = await KafkaTracker.open({
      brokers,
      tenantId: tenant,
      configs: [config],
      spoolDir: await mkdtemp(join(tmpdir(), "contract-spool-")),
      partitions: 3,
      log: pino({ level: "silent" }),
    });
  });
  afterAll(async () => {
    await tracker?.close();
    await relay?.close();
  });

  it("answers each event of the same batch field by field the same", async () => {
    const events = Object.values(INPUTS);
    const response = await fetch(`${relay.httpUrl}/api/v1/behaviors/track/batch`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ events }),
    });
    expect(response.status).toBe(200);
    const rest = ((await response.json()) as { results: Record<string, unknown>[] }).results.map(
      ({ index: _index, event_id: _eventId, ...rest }) => rest,
    );
    const direct = (await tracker.trackMany(events as TrackedEvent[])).map(restShaped);

    for (const [i, name] of Object.keys(INPUTS).entries()) expect([name, direct[i]]).toEqual([name, rest[i]]);
    // Each kind of answer is there, so the comparison covers them.
    expect(rest.map((r) => r.success)).toEqual([true, true, false, false, false, false, false, false]);
    expect(new Set(rest.map((r) => r.error_code))).toEqual(
      new Set([undefined, "invalid_event", "payload_too_large"]),
    );
  });
});
