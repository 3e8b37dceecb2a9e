import {
  type ConnectionOptions,
  compatibilityPartitioner,
  type MessageToProduce,
  ProduceAcks,
  Producer,
  stringSerializers,
} from "@platformatic/kafka";
import { classifyKafkaError } from "./errors.ts";
import { type EventRecord, type RecordProducer, VALIDATED_BY_HEADER } from "./records.ts";

export interface ProducerSettings {
  clientId: string;
  brokers: string[];
  connection?: Pick<ConnectionOptions, "tls" | "sasl">;
  /** The codec of a topic's records in a request from {@link LARGE_BATCH_BYTES} (zstd by default). */
  compression: Codec;
  /** The codec of a topic's records in a smaller request, from {@link COMPRESS_FROM_BYTES} (lz4 by default). */
  compressionSmall: Codec;
  /**
   * How long one produce request may wait for the broker. Longer than the ack timeout on purpose: a
   * request to a paused broker is still answered when it resumes, and its records are then not sent
   * a second time from the spool.
   */
  requestTimeoutMs: number;
  /**
   * How long one send keeps retrying retriable failures (a leader moving, a broker restarting) before it
   * fails and the write path spools. Retries inside a send reuse its sequence numbers, so the broker
   * drops a repeat of a request that had landed: no duplicates, unlike a replay from the spool.
   */
  retryForMs: number;
  /**
   * Idempotent producers, each with its own connection to each broker. The client sends one produce
   * request at a time per connection when idempotent, and a broker answers a connection's requests one
   * after another: with one connection, 40 combined requests a second over 1,000 tenants' topics queued
   * behind each other, and 0.01–2.5 % of the topics' sends waited over 250 ms for Kafka; with four,
   * 0–0.3 % did (docs/performance.md, "Produce requests in flight"). Order is kept: a topic has one send under
   * way at a time, whichever producer carries it, and a send's retries stay on its producer.
   */
  connections?: number;
}

/** Producers (connections) of the write path unless set otherwise. */
export const PRODUCER_CONNECTIONS = 4;

export const CODECS = ["none", "gzip", "snappy", "lz4", "zstd"] as const;
export type Codec = (typeof CODECS)[number];

/**
 * Codecs by the bytes a request carries per topic (Kafka compresses each partition's batch on its own).
 * `npm run bench:compression` (`bench/results/2026-12-08T05-06-13-compression.json`, the relay's records,
 * CPU per record of the batch the client builds): one record costs 11.6 µs uncompressed, +3 µs with
 * lz4 and +49 µs with zstd (+75 µs with gzip) for 15–30 % fewer bytes, so a record alone goes as it is;
 * from about two records lz4 costs 1–1.5 µs more per record for 6× fewer bytes; from 100 records
 * (about 64 KB) zstd costs 1–2 µs more per record than lz4 for a third fewer bytes, and half gzip's CPU.
 */
const COMPRESS_FROM_BYTES = 1024;
const LARGE_BATCH_BYTES = 64 * 1024;

/** The codec for a request carrying `bytesPerTopic` of each topic's records on average. */
export const codecFor = (
  bytesPerTopic: number,
  settings: Pick<ProducerSettings, "compression" | "compressionSmall">,
): Codec =>
  bytesPerTopic < COMPRESS_FROM_BYTES
    ? "none"
    : bytesPerTopic < LARGE_BATCH_BYTES
      ? settings.compressionSmall
      : settings.compression;

/** Between retries of a send. */
const RETRY_DELAY_MS = 250;

/**
 * The real producer: `@platformatic/kafka`, idempotent with acks=all and the Java-compatible
 * partitioner (key → partition as Java, Go and Python writers of the same topic); its errors are classified (src/kafka/errors.ts) for the write path. Every record says
 * it was validated, and by whom (`validated_by`: the client id), for the auditor.
 */
export const platformaticProducer = (settings: ProducerSettings): RecordProducer => {
  // The header names and the client id repeat in every record: encoded once, not per record (the
  // relay's batched path measured 38–40 µs per event encoding them per record, 34–37 µs once).
  const repeated = new Map(
    ["event_id", VALIDATED_BY_HEADER, "hot_key", "true", settings.clientId].map((text) => [
      text,
      Buffer.from(text),
    ]),
  );
  const headerBytes = (text: string | undefined) =>
    text === undefined ? undefined : (repeated.get(text) ?? Buffer.from(text, "utf8"));
  const open = () =>
    new Producer({
      clientId: settings.clientId,
      bootstrapBrokers: settings.brokers,
      ...settings.connection,
      serializers: { ...stringSerializers, headerKey: headerBytes, headerValue: headerBytes },
      idempotent: true,
      acks: ProduceAcks.ALL,
      partitioner: compatibilityPartitioner,
      timeout: settings.requestTimeoutMs,
      retries: Math.max(1, Math.ceil(settings.retryForMs / RETRY_DELAY_MS)),
      retryDelay: RETRY_DELAY_MS,
      // The client's default is 5 s: past it, every send first asks the broker for its topics' metadata
      // again. With 1,000 tenants' topics in the requests, some topic was always stale, and sends queued
      // behind metadata requests for seconds. Java's producer keeps it 5 minutes; a leader that moves
      // meanwhile is learnt from the produce error, which refreshes it.
      metadataMaxAge: 300_000,
    });
  const pool = Array.from({ length: settings.connections ?? 1 }, () => ({ producer: open(), sending: 0 }));
  // Spreads hot keys' overflow over the partitions (the client takes it modulo their number).
  let nextPartition = 0;
  return {
    send: async (records: readonly EventRecord[]) => {
      // The least busy producer; ties go to the first, so a light load keeps to one connection.
      const slot = pool.reduce((best, next) => (next.sending < best.sending ? next : best));
      slot.sending++;
      try {
        const bytes = records.reduce((sum, r) => sum + r.value.length, 0);
        const topics = new Set(records.map((r) => r.topic)).size;
        await slot.producer.send({
          compression: codecFor(bytes / topics, settings),
          messages: records.map(
            (r): MessageToProduce<string, string, string, string> =>
              r.overflow
                ? {
                    topic: r.topic,
                    value: r.value,
                    headers: {
                      event_id: r.eventId,
                      [VALIDATED_BY_HEADER]: settings.clientId,
                      hot_key: "true",
                    },
                    partition: nextPartition++ % 1_000_000,
                  }
                : {
                    topic: r.topic,
                    key: r.key,
                    value: r.value,
                    headers: { event_id: r.eventId, [VALIDATED_BY_HEADER]: settings.clientId },
                  },
          ),
        });
      } catch (error) {
        throw classifyKafkaError(error);
      } finally {
        slot.sending--;
      }
    },
    close: async () => {
      await Promise.all(pool.map((slot) => slot.producer.close()));
    },
  };
};
