import { randomUUID } from "node:crypto";
import {
  type ConnectionOptions,
  Consumer,
  MessagesStreamModes,
  stringDeserializers,
} from "@platformatic/kafka";
import {
  type Issue,
  quarantineTopicFor,
  readStoredEvent,
  type TrackingConfig,
  topicFor,
  validateEvent,
} from "../core/index.ts";

/** One record of a tenant's topic or its quarantine topic, as a reader shows it. */
export interface TailRecord {
  topic: string;
  partition: number;
  offset: bigint;
  /** When Kafka took it, epoch milliseconds. */
  timestamp: number;
  key: string;
  /** Absent for a record without a value (a tombstone). */
  value: string | undefined;
}

export interface TailOptions {
  brokers: string[];
  topics: string[];
  /** How many of the records already in the topics to show first: the newest, in the order they landed. */
  last: number;
  /** Keep reading as records arrive, until `signal` aborts; otherwise stop at the end offsets of the start. */
  follow: boolean;
  /**
   * Following: records that landed from this time on (epoch ms; default: when reading starts) are new,
   * so none is missed between a caller's "watching" and the reader's start; earlier ones are the backlog.
   */
  since?: number;
  signal?: AbortSignal;
  connection?: Pick<ConnectionOptions, "sasl" | "tls">;
}

/** Kafka's answer for a topic that does not exist (yet), as the client reports it. */
const isUnknownTopic = (error: unknown) => /unknown topic/i.test(String(error));

/**
 * Reads topics the way `tail` reads a file: the last records, then (with `follow`) the new ones. A
 * consumer group of its own that commits nothing, so it never moves anyone's offsets and never slows
 * the writers. Without `follow`, topics that do not exist are skipped; following, each topic is read on
 * its own and waited for until it exists (a tenant's quarantine topic appears with its first refusal).
 */
export async function* tailTopics(options: TailOptions): AsyncGenerator<TailRecord> {
  if (options.follow && options.topics.length > 1) {
    yield* merge(options.topics.map((topic) => tailTopics({ ...options, topics: [topic] })));
    return;
  }
  const consumer = new Consumer({
    clientId: "behavior-ingest-tail",
    groupId: `behavior-ingest-tail-${randomUUID()}`,
    bootstrapBrokers: options.brokers,
    deserializers: stringDeserializers,
    ...options.connection,
  });
  try {
    const since = options.since ?? Date.now();
    const offsets: { topic: string; partition: number; offset: bigint }[] = [];
    // Following a topic that does not exist yet: it appears with the first record written to it.
    while (options.follow && !options.signal?.aborted) {
      const exists = await consumer.listOffsets({ topics: options.topics }).then(
        () => true,
        (error: unknown) => (isUnknownTopic(error) ? false : Promise.reject(error)),
      );
      if (exists) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    /** Per topic and partition, where its backlog ends: records from there on are new. */
    const ends = new Map<string, bigint>();
    for (const topic of options.topics) {
      const [earliest, latest, fromSince] = await Promise.all([
        consumer.listOffsets({ topics: [topic], timestamp: -2n }),
        consumer.listOffsets({ topics: [topic] }),
        // Kafka's offsets for a time: the first record that landed at `since` or later (-1: none yet).
        options.follow ? consumer.listOffsets({ topics: [topic], timestamp: BigInt(since) }) : undefined,
      ]).catch((error: unknown) =>
        // A topic that does not exist holds nothing to show; any other failure (Kafka unreachable,
        // not authorised) is the caller's to report.
        isUnknownTopic(error) ? [undefined, undefined, undefined] : Promise.reject(error),
      );
      const first = earliest?.get(topic);
      const last = latest?.get(topic);
      if (first === undefined || last === undefined) continue;
      last.forEach((latestEnd, partition) => {
        const atSince = fromSince?.get(topic)?.[partition];
        const end = atSince === undefined || atSince < 0n || atSince > latestEnd ? latestEnd : atSince;
        const start = first[partition] ?? 0n;
        const from = end - BigInt(options.last) > start ? end - BigInt(options.last) : start;
        offsets.push({ topic, partition, offset: from });
        if (end > from) ends.set(`${topic}/${partition}`, end);
      });
    }
    if (offsets.length === 0 || (!options.follow && ends.size === 0) || options.signal?.aborted) return;
    const stream = await consumer.consume({
      topics: [...new Set(offsets.map((o) => o.topic))],
      mode: MessagesStreamModes.MANUAL,
      offsets,
      autocommit: false,
      maxWaitTime: 250,
    });
    const stop = () => void stream.close().catch(() => undefined);
    options.signal?.addEventListener("abort", stop, { once: true });
    if (options.signal?.aborted) stop();
    try {
      // The backlog (up to `last` records of each partition before its end) is shown first: its newest
      // `last`, in the order they landed. New records that come meanwhile wait for it, then stream.
      const backlog: TailRecord[] = [];
      const early: TailRecord[] = [];
      for await (const message of stream) {
        const record = {
          topic: message.topic,
          partition: message.partition,
          offset: message.offset,
          timestamp: Number(message.timestamp),
          key: message.key ?? "",
          value: message.value,
        };
        const where = `${record.topic}/${record.partition}`;
        const end = ends.get(where);
        if (end === undefined || record.offset >= end) {
          if (ends.size === 0) yield record;
          else early.push(record);
          continue;
        }
        backlog.push(record);
        if (record.offset + 1n >= end) ends.delete(where);
        if (ends.size === 0) {
          backlog.sort((a, b) => a.timestamp - b.timestamp || a.partition - b.partition);
          yield* backlog.slice(Math.max(0, backlog.length - options.last));
          if (!options.follow) break;
          yield* early;
        }
      }
    } finally {
      options.signal?.removeEventListener("abort", stop);
      await stream.close().catch(() => undefined);
    }
  } finally {
    await consumer.close(true).catch(() => undefined);
  }
}

/**
 * The records of several streams as they come. Returning does not wait for the streams' pending reads:
 * those end when the caller's signal aborts them.
 */
async function* merge<T>(sources: AsyncIterable<T>[]): AsyncGenerator<T> {
  const iterators = sources.map((source) => source[Symbol.asyncIterator]());
  const next = (i: number) => (iterators[i] as AsyncIterator<T>).next().then((result) => ({ i, result }));
  const pending = new Map(iterators.map((_, i) => [i, next(i)]));
  try {
    while (pending.size > 0) {
      const { i, result } = await Promise.race(pending.values());
      if (result.done) pending.delete(i);
      else {
        pending.set(i, next(i));
        yield result.value;
      }
    }
  } finally {
    for (const iterator of iterators) void iterator.return?.();
  }
}

/** Tenant ids have no "-", so only a quarantine topic ends so. */
const QUARANTINE_SUFFIX = quarantineTopicFor("x").slice(topicFor("x").length);

/** A record as live views show it (the CLI's `tail`, the relay's live stream). */
export type LiveEvent =
  | {
      kind: "accepted";
      topic: string;
      partition: number;
      offset: string;
      landed_at: string;
      event: Record<string, unknown>;
      /** The event's warnings against its tenant's current config; absent when the configs are unknown. */
      warnings?: Issue[];
    }
  | {
      kind: "rejected";
      topic: string;
      partition: number;
      offset: string;
      landed_at: string;
      reason: string;
      errors: Issue[];
      event: unknown;
    };

/**
 * A tenant topic's record (an accepted event) or its quarantine topic's (a refusal with its reason) as
 * a live view shows it. `configFor` gives the tenant's current config of a scenario, for warnings.
 */
export const toLiveEvent = async (
  record: TailRecord,
  configFor?: (scenarioId: string) => Promise<TrackingConfig | undefined> | TrackingConfig | undefined,
): Promise<LiveEvent> => {
  const where = {
    topic: record.topic,
    partition: record.partition,
    offset: String(record.offset),
    landed_at: new Date(record.timestamp).toISOString(),
  };
  // A direct writer may have put anything in the topic (a tombstone, text, JSON nested thousands deep):
  // shown as what it is, not dropped, and never the end of the view.
  const read = readStoredEvent(record.value);
  const value: Record<string, unknown> = read.ok
    ? read.event
    : { unreadable: read.unreadable, value: record.value?.slice(0, 200) ?? null };
  if (record.topic.endsWith(QUARANTINE_SUFFIX)) {
    return {
      kind: "rejected",
      ...where,
      reason: String(value.reason ?? "unknown"),
      errors: Array.isArray(value.errors) ? (value.errors as Issue[]) : [],
      event: value.event,
    };
  }
  if (configFor === undefined || !read.ok) return { kind: "accepted", ...where, event: value };
  const scenario = typeof value.scenario_id === "string" ? value.scenario_id : "";
  const { warnings } = validateEvent(structuredClone(value), await configFor(scenario));
  return { kind: "accepted", ...where, event: value, warnings };
};
