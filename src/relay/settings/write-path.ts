import * as z from "zod";
import { intSetting as int } from "../../core/index.ts";
import { CODECS, PRODUCER_CONNECTIONS, type ProducerSettings } from "../../kafka/producer.ts";
import type { TopicSettings } from "../../kafka/topics.ts";
import { type KafkaWriterSettings, WRITE_PATH_DEFAULTS } from "../../kafka/writer.ts";
import { type KafkaSettings, kafkaConnection } from "./kafka.ts";

/**
 * How the write path batches and sends events to Kafka, makes tenant topics, and bounds the spool and
 * the dead-letter file that hold what Kafka does not take at once (docs/relay.md).
 */
export const WriteSettings = z.object({
  /**
   * The codec of a request's records of one topic: KAFKA_COMPRESSION from 64 KB of them (about 100
   * events), KAFKA_COMPRESSION_SMALL from 1 KB, none below (a record alone). zstd needs Kafka ≥ 2.1 on
   * the brokers and every consumer (docs/performance.md, "Compression").
   */
  KAFKA_COMPRESSION: z.enum(CODECS).default(WRITE_PATH_DEFAULTS.compression),
  KAFKA_COMPRESSION_SMALL: z.enum(CODECS).default(WRITE_PATH_DEFAULTS.compressionSmall),
  /** How long a batch may wait for more events before it is sent. */
  KAFKA_LINGER_MS: int(5),
  /** Events per produce request at most. */
  KAFKA_BATCH_MAX_EVENTS: int(1000, 1),
  /**
   * Bytes per produce request at most, under the broker's `message.max.bytes` (1 MiB by default), so
   * legal events never form a batch Kafka refuses. At least one largest event (32 KiB) and its
   * quarantine record (64 KiB).
   */
  KAFKA_BATCH_MAX_BYTES: int(WRITE_PATH_DEFAULTS.maxBatchBytes, 128 * 1024),
  /** Events waiting for Kafka at most; beyond it new events go to the spool (bounded memory). */
  KAFKA_BUFFER_MAX_EVENTS: int(20_000, 1),
  /** Events waiting for Kafka in one tenant's topic at most (its share); beyond it they go to its spool. */
  KAFKA_BUFFER_TOPIC_MAX_EVENTS: int(5000, 1),
  /**
   * A batch not acknowledged within this time is backed up to the spool so its callers can be answered;
   * the request goes on, and if it lands, the backup is not sent again.
   */
  KAFKA_ACK_TIMEOUT_MS: int(WRITE_PATH_DEFAULTS.ackTimeoutMs, 100),
  /**
   * Events per second of one user in one tenant beyond which the excess is written without the user
   * key, spread over the topic's partitions (header `hot_key`): the one place where per-user order is
   * traded for availability. 0 turns it off.
   */
  HOT_KEY_EVENTS_PER_SECOND: int(WRITE_PATH_DEFAULTS.hotKeyEventsPerSecond, 0),
  /** Producers, each with its own connection per broker and one produce request in flight on it. */
  KAFKA_PRODUCER_CONNECTIONS: int(PRODUCER_CONNECTIONS, 1),
  /** How long one produce request waits for the broker (a paused broker's answer still counts). */
  KAFKA_REQUEST_TIMEOUT_MS: int(WRITE_PATH_DEFAULTS.requestTimeoutMs, 1000),
  /** Partitions of a tenant topic (and of its -rejected topic); 12–24 by tenant size in production. */
  TOPIC_PARTITIONS: int(WRITE_PATH_DEFAULTS.partitions, 1),
  /** Replicas per partition; unset: min(3, brokers in the cluster). */
  TOPIC_REPLICATION_FACTOR: z.coerce.number().int().min(1).optional(),
  /** `min.insync.replicas` of a tenant topic; unset: 2 with three replicas or more, else 1. */
  TOPIC_MIN_INSYNC_REPLICAS: z.coerce.number().int().min(1).optional(),
  TOPIC_RETENTION_MS: int(WRITE_PATH_DEFAULTS.retentionMs, 1),
  /**
   * Whether the relay creates a tenant's topics on its first write. `false` with a produce-only Kafka
   * user: an operator provisions topics (`npm run topics -- ensure <tenant>`, also done by the admin
   * API when a tenant's first config is created); a missing topic holds back only its own events.
   */
  TOPIC_AUTO_CREATE: z
    .enum(["true", "false"])
    .default("true")
    .transform((value) => value === "true"),
  SPOOL_DIR: z.string().default(".dev/spool"),
  /** Bytes the spool may hold; beyond it events are refused with a retryable 503. */
  SPOOL_MAX_BYTES: int(WRITE_PATH_DEFAULTS.spoolMaxBytes, 1024),
  /**
   * Bytes one topic's spool may hold of SPOOL_MAX_BYTES (a tenant's events; its refusals have a topic of
   * their own): a tenant whose topic cannot be written gets retryable 503s once its share is full,
   * while the others' events are still taken.
   */
  SPOOL_TOPIC_MAX_BYTES: int(64 * 1024 * 1024, 1024),
  /**
   * Bytes the dead-letter file (SPOOL_DIR/dead-letter.ndjson: records refused even by their
   * quarantine topic) may hold. Beyond it, or beyond a tenant's share, a refusal's record is dropped
   * (counted) and an acknowledged event's waits in its spool, or its sender is refused retryably.
   */
  DEAD_LETTER_MAX_BYTES: int(WRITE_PATH_DEFAULTS.deadLetterMaxBytes, 1024),
  /** Bytes one tenant's records may take of DEAD_LETTER_MAX_BYTES. */
  DEAD_LETTER_TENANT_MAX_BYTES: int(8 * 1024 * 1024, 1024),
});
type WriteSettings = z.infer<typeof WriteSettings>;

/** The tenant-topic settings of the write path and the topics command. */
export const topicSettingsOf = (s: WriteSettings): TopicSettings => ({
  partitions: s.TOPIC_PARTITIONS,
  replicationFactor: s.TOPIC_REPLICATION_FACTOR,
  minInsyncReplicas: s.TOPIC_MIN_INSYNC_REPLICAS,
  retentionMs: s.TOPIC_RETENTION_MS,
  autoCreate: s.TOPIC_AUTO_CREATE,
});

/** A producer of the relay's settings under `clientId` (the auditor's, the redrive's). */
export const producerSettingsOf = (s: KafkaSettings & WriteSettings, clientId: string): ProducerSettings => ({
  clientId,
  brokers: s.KAFKA_BROKERS,
  connection: kafkaConnection(s),
  compression: s.KAFKA_COMPRESSION,
  compressionSmall: s.KAFKA_COMPRESSION_SMALL,
  requestTimeoutMs: s.KAFKA_REQUEST_TIMEOUT_MS,
  retryForMs: s.KAFKA_ACK_TIMEOUT_MS,
});

/**
 * The relay's write path: its Kafka clients, batching, buffer, spool and dead-letter bounds.
 * `onSpooled` is told of accepted events the spool took instead of Kafka.
 */
export const kafkaWriterSettingsOf = (
  s: KafkaSettings & WriteSettings,
  onSpooled: KafkaWriterSettings["onSpooled"],
): KafkaWriterSettings => ({
  clientId: s.KAFKA_CLIENT_ID,
  brokers: s.KAFKA_BROKERS,
  connection: kafkaConnection(s),
  compression: s.KAFKA_COMPRESSION,
  compressionSmall: s.KAFKA_COMPRESSION_SMALL,
  lingerMs: s.KAFKA_LINGER_MS,
  flushAtEvents: s.KAFKA_BATCH_MAX_EVENTS,
  maxBatchEvents: s.KAFKA_BATCH_MAX_EVENTS,
  maxBatchBytes: s.KAFKA_BATCH_MAX_BYTES,
  hotKeyEventsPerSecond: s.HOT_KEY_EVENTS_PER_SECOND,
  ackTimeoutMs: s.KAFKA_ACK_TIMEOUT_MS,
  requestTimeoutMs: s.KAFKA_REQUEST_TIMEOUT_MS,
  connections: s.KAFKA_PRODUCER_CONNECTIONS,
  bufferMaxEvents: s.KAFKA_BUFFER_MAX_EVENTS,
  bufferTopicMaxEvents: s.KAFKA_BUFFER_TOPIC_MAX_EVENTS,
  spoolDir: s.SPOOL_DIR,
  spoolMaxBytes: s.SPOOL_MAX_BYTES,
  spoolTopicMaxBytes: s.SPOOL_TOPIC_MAX_BYTES,
  deadLetters: {
    maxBytes: s.DEAD_LETTER_MAX_BYTES,
    tenantMaxBytes: s.DEAD_LETTER_TENANT_MAX_BYTES,
  },
  topics: topicSettingsOf(s),
  onSpooled,
});
