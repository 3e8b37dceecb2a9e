import { randomUUID } from "node:crypto";
import {
  type ConnectionOptions,
  Consumer,
  MessagesStreamModes,
  stringDeserializers,
} from "@platformatic/kafka";

/** One record of a tenant's topic or its quarantine topic, as a reader shows it. */
export interface TailRecord {
  topic: string;
  partition: number;
  offset: bigint;
  /** When Kafka took it, epoch milliseconds. */
  timestamp: number;
  key: string;
  value: string;
}

export interface TailOptions {
  brokers: string[];
  topics: string[];
  /** How many of the records already in the topics to show first: the newest, in the order they landed. */
  last: number;
  /** Keep reading as records arrive, until `signal` aborts; otherwise stop at the end offsets of the start. */
  follow: boolean;
  signal?: AbortSignal;
  connection?: Pick<ConnectionOptions, "sasl" | "tls">;
}

/**
 * Reads topics the way `tail` reads a file: the last records of each partition, then (with `follow`)
 * the new ones. A consumer group of its own that commits nothing, so it never moves anyone's offsets
 * and never slows the writers. Topics that do not exist yet are skipped (reported by the caller).
 */
export async function* tailTopics(options: TailOptions): AsyncGenerator<TailRecord> {
  const consumer = new Consumer({
    clientId: "behavior-ingest-tail",
    groupId: `behavior-ingest-tail-${randomUUID()}`,
    bootstrapBrokers: options.brokers,
    deserializers: stringDeserializers,
    ...options.connection,
  });
  try {
    const offsets: { topic: string; partition: number; offset: bigint }[] = [];
    // Following a tenant with no topic yet: it appears with the tenant's first event.
    while (options.follow && !options.signal?.aborted) {
      const exists = await consumer.listOffsets({ topics: options.topics }).then(
        () => true,
        () => false,
      );
      if (exists) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    /** Per topic and partition, where its backlog ends: records from there on are new. */
    const ends = new Map<string, bigint>();
    for (const topic of options.topics) {
      const [earliest, latest] = await Promise.all([
        consumer.listOffsets({ topics: [topic], timestamp: -2n }),
        consumer.listOffsets({ topics: [topic] }),
      ]).catch(() => [undefined, undefined]);
      const first = earliest?.get(topic);
      const last = latest?.get(topic);
      if (first === undefined || last === undefined) continue;
      last.forEach((end, partition) => {
        const start = first[partition] ?? 0n;
        const from = end - BigInt(options.last) > start ? end - BigInt(options.last) : start;
        offsets.push({ topic, partition, offset: from });
        if (end > from) ends.set(`${topic}/${partition}`, end);
      });
    }
    if (offsets.length === 0 || (!options.follow && ends.size === 0)) return;
    const stream = await consumer.consume({
      topics: [...new Set(offsets.map((o) => o.topic))],
      mode: MessagesStreamModes.MANUAL,
      offsets,
      autocommit: false,
      maxWaitTime: 250,
    });
    const stop = () => void stream.close().catch(() => undefined);
    options.signal?.addEventListener("abort", stop, { once: true });
    try {
      // The backlog: up to `last` records of each partition, of which the newest `last` are shown, in
      // the order they landed; then, following, each record as it comes.
      const backlog: TailRecord[] = [];
      for await (const message of stream) {
        const record = {
          topic: message.topic,
          partition: message.partition,
          offset: message.offset,
          timestamp: Number(message.timestamp),
          key: message.key ?? "",
          value: message.value ?? "",
        };
        const where = `${record.topic}/${record.partition}`;
        if (ends.size === 0) {
          yield record;
          continue;
        }
        backlog.push(record);
        if (record.offset + 1n >= (ends.get(where) ?? 0n)) ends.delete(where);
        if (ends.size === 0) {
          backlog.sort((a, b) => a.timestamp - b.timestamp || a.partition - b.partition);
          yield* backlog.slice(-options.last);
          if (!options.follow) break;
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
