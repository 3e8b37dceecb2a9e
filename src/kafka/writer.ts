import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Admin } from "@platformatic/kafka";
import type { Logger } from "pino";
import { combiningProducer } from "./combining-producer.ts";
import { DEAD_LETTER_FILE, type DeadLetterBounds, DeadLetterFile } from "./dead-letters.ts";
import { DurableSink } from "./durable-sink.ts";
import type { WritePathSettings } from "./lane-context.ts";
import type { KafkaWriterMetrics } from "./metrics.ts";
import { PRODUCER_CONNECTIONS, type ProducerSettings, platformaticProducer } from "./producer.ts";
import { fileSpoolStore, SpoolBudget } from "./spool.ts";
import { TopicProvisioner, type TopicSettings } from "./topics.ts";

/**
 * The write path's defaults where the relay and the Kafka-direct tracker agree (the tracker batches
 * longer and buffers more: it has one process's events, not thousands of callers waiting).
 */
export const WRITE_PATH_DEFAULTS = {
  compression: "zstd",
  compressionSmall: "lz4",
  /** Under the broker's `message.max.bytes` (1 MiB by default). */
  maxBatchBytes: 900_000,
  ackTimeoutMs: 5000,
  requestTimeoutMs: 60_000,
  hotKeyEventsPerSecond: 1000,
  partitions: 12,
  retentionMs: 7 * 24 * 60 * 60 * 1000,
  spoolMaxBytes: 256 * 1024 * 1024,
  deadLetterMaxBytes: 64 * 1024 * 1024,
} as const;

export interface KafkaWriterSettings extends Omit<ProducerSettings, "retryForMs">, WritePathSettings {
  spoolDir: string;
  /** The dead-letter file in `spoolDir`: bytes in all and per tenant. */
  deadLetters: DeadLetterBounds;
  spoolMaxBytes: number;
  /** The share of `spoolMaxBytes` one topic's spool may take. */
  spoolTopicMaxBytes: number;
  topics: TopicSettings;
}

export interface KafkaWriter {
  sink: DurableSink;
  /** Creates topics with the writer's topic settings (also when auto-creation is off). */
  topics: TopicProvisioner;
  /**
   * Delivers a spool directory another writer left (a relay worker that is no more): replays it with
   * this writer's producer and removes it once empty. Resolves when done.
   */
  adopt(spoolDir: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * The write path shared by the relay and the Kafka-direct tracker: the real producer and topic
 * provisioning, a spool per topic under `spoolDir`, the dead-letter file beside them, and the durable
 * sink over them.
 */
export const openKafkaWriter = async (
  settings: KafkaWriterSettings,
  metrics: KafkaWriterMetrics,
  log: Logger,
): Promise<KafkaWriter> => {
  const admin = new Admin({
    clientId: settings.clientId,
    bootstrapBrokers: settings.brokers,
    ...settings.connection,
  });
  const topics = new TopicProvisioner(admin, settings.topics);
  const connections = settings.connections ?? PRODUCER_CONNECTIONS;
  const producer = combiningProducer(
    platformaticProducer({ ...settings, connections, retryForMs: settings.ackTimeoutMs }),
    topics,
    {
      resentAfterFailure: (events) => metrics.duplicateRiskEvents.inc(events),
      request: (kind) => metrics.produceRequests.inc({ kind }),
      topics: (proven, suspect) => {
        metrics.topics.set({ state: "proven" }, proven);
        metrics.topics.set({ state: "suspect" }, suspect);
      },
    },
    connections,
  );
  const deadLetters = new DeadLetterFile(
    join(settings.spoolDir, DEAD_LETTER_FILE),
    settings.deadLetters,
    metrics.deadLetterBytes,
  );
  metrics.deadLetterFiles.add(deadLetters);
  const sink = await DurableSink.open(
    producer,
    fileSpoolStore(settings.spoolDir, new SpoolBudget(settings.spoolMaxBytes, settings.spoolTopicMaxBytes)),
    settings,
    metrics,
    log,
    deadLetters,
  );
  let closing = false;
  return {
    sink,
    topics,
    adopt: async (spoolDir) => {
      const orphan = await DurableSink.open(
        producer,
        fileSpoolStore(spoolDir, new SpoolBudget(settings.spoolMaxBytes, settings.spoolTopicMaxBytes)),
        settings,
        metrics,
        log,
        // Its new dead letters join this writer's (within this writer's bounds); its old file stays.
        deadLetters,
      );
      while (orphan.spooled > 0 && !closing) await new Promise((resolve) => setTimeout(resolve, 200));
      await orphan.close();
      // Kept when it still holds records (this writer is closing) or dead letters to re-drive.
      if (orphan.spooled > 0 || existsSync(join(spoolDir, DEAD_LETTER_FILE))) return;
      await rm(spoolDir, { recursive: true, force: true });
      log.info({ spoolDir }, "an adopted spool was delivered and removed");
    },
    close: async () => {
      closing = true;
      metrics.deadLetterFiles.delete(deadLetters);
      await sink.close();
      await producer.close();
      await admin.close();
    },
  };
};

export { DEAD_LETTER_FILE };
