import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { inject } from "vitest";
import { loadSettings } from "../../src/relay/config.ts";
import type { ConfigSource } from "../../src/relay/config-source.ts";
import { type RunningRelay, startRelay } from "../../src/relay/server.ts";
import { uniqueName } from "./random.ts";

/** A relay on free ports with its own spool directory, writing to the test brokers. */
export const startTestRelay = async (
  brokers: string[],
  keys: string[],
  options: { configs?: ConfigSource; env?: Record<string, string> } = {},
): Promise<RunningRelay & { spoolDir: string; database: string }> => {
  const database = uniqueName("relay");
  const spoolDir = await mkdtemp(join(tmpdir(), "relay-spool-"));
  const settings = loadSettings({
    RELAY_HTTP_PORT: "0",
    RELAY_GRPC_PORT: "0",
    KAFKA_BROKERS: brokers.join(","),
    TOPIC_PARTITIONS: "3",
    SPOOL_DIR: spoolDir,
    RELAY_API_KEYS: keys.join(","),
    MONGODB_URI: inject("mongodbUri"),
    MONGODB_DB: database,
    ...options.env,
  });
  const relay = await startRelay(settings, { configs: options.configs, log: pino({ level: "silent" }) });
  return { ...relay, spoolDir, database };
};
