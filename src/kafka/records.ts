import type { EventRecordOf } from "../core/index.ts";

/**
 * One Kafka record of the write path: the event JSON keyed by user, with its id as a header (the settle
 * stage's record, src/core/pipeline.ts), as the write path may mark it.
 */
export interface EventRecord extends EventRecordOf {
  /** A hot user's excess (src/kafka/hot-keys.ts): written without its key, spread over partitions. */
  overflow?: boolean;
}

/**
 * The header every record our validating writers (the relay, the Kafka-direct tracker) write carries:
 * their Kafka client id. The auditor tells their records from those of writers that skip validation.
 */
export const VALIDATED_BY_HEADER = "validated_by";

/**
 * Where accepted records go. Resolves once the records are durable (in Kafka or in the spool); rejects
 * with {@link TopicsUnwrittenError} naming the topics whose records are not.
 */
export interface RecordSink {
  write(records: readonly EventRecord[]): Promise<void>;
  readonly kafkaAvailable: boolean;
  /** Topics whose records cannot be written now (they wait in their spools), if the sink tells. */
  readonly failingTopics?: number;
  /** False when neither Kafka nor the spool can take more: the relay is not ready. */
  readonly accepting: boolean;
  close(): Promise<void>;
}

/** The sink is full (buffer and spool): the caller answers with a retryable 503. */
export class SinkUnavailableError extends Error {}

/**
 * Some topics' records of a write could not be made durable; every other topic's records were. The
 * caller refuses (retryably) only the records of `topics`: answering the whole write as failed would make
 * the client send the durable ones again.
 */
export class TopicsUnwrittenError extends SinkUnavailableError {
  readonly topics: ReadonlySet<string>;

  constructor(topics: ReadonlySet<string>, options: { cause: unknown }) {
    const why = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`the records of ${topics.size} topic(s) could not be stored: ${why}`, options);
    this.topics = topics;
  }
}

/**
 * How a failed produce request failed, which decides what the write path does next:
 * - `retriable`: the cluster could not take it now (network, leadership, timeouts, throttling): retry
 *   later, from the spool;
 * - `record`: Kafka refused what was in the request (too large, invalid, policy): find the offending
 *   records by splitting the request, quarantine them, deliver the rest;
 * - `topic`: the topic cannot be written (not authorised, unknown): only that topic's records wait.
 */
export type KafkaFailureKind = "retriable" | "record" | "topic";

export class KafkaWriteError extends Error {
  readonly kind: KafkaFailureKind;
  /** Kafka's name for it (MESSAGE_TOO_LARGE, NOT_LEADER_OR_FOLLOWER…), or the client's. */
  readonly reason: string;

  constructor(kind: KafkaFailureKind, reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.reason = reason;
  }
}

/** The port to Kafka: one produce request (acks=all) for records of one topic; throws {@link KafkaWriteError}. */
export interface RecordProducer {
  send(records: readonly EventRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** Bytes a record takes in a produce request, near enough to keep requests under the broker's limit. */
export const recordBytes = (record: EventRecord): number =>
  Buffer.byteLength(record.value) + Buffer.byteLength(record.key) + record.eventId.length + 80;

/** Records grouped by topic, each group in the order given. */
export const byTopic = (records: readonly EventRecord[]): Map<string, EventRecord[]> => {
  const groups = new Map<string, EventRecord[]>();
  for (const record of records) {
    const group = groups.get(record.topic);
    if (group === undefined) groups.set(record.topic, [record]);
    else group.push(record);
  }
  return groups;
};
