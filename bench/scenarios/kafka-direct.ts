// The Kafka-direct tracker, a library: driven in this process by the bench's own stepped open loop.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { KafkaTracker } from "../../src/sdk/kafka-tracker.ts";
import { steppedLoad } from "../load.ts";
import { BROKERS, event, say, tenant } from "./context.ts";

export const kafkaDirectScenario = async () => {
  say("Kafka-direct tracker");
  const tracker = await KafkaTracker.open({
    brokers: BROKERS,
    tenantId: tenant,
    spoolDir: await mkdtemp(join(tmpdir(), "bench-tracker-spool-")),
    log: pino({ level: "warn" }),
    // As a latency-minded service sets it (the relay's default too); the default 1 s only matters
    // below 100 events/s, but it would hold the last events of every step for a second.
    lingerMs: 5,
    hotKeyEventsPerSecond: 0,
  });
  await tracker.track(event);
  const result = await steppedLoad(
    async () => {
      const outcome = await tracker.track(event);
      if (!outcome.ok) throw new Error("refused");
    },
    { startEventsPerSecond: 2000 },
  );
  await tracker.close();
  return result;
};
