import {
  Admin,
  type ConnectionOptions,
  Consumer,
  type MessagesStream,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  stringDeserializers,
} from "@platformatic/kafka";
import type { Registry } from "prom-client";
import { tenantOfTopic } from "../core/index.ts";
import { type AuditingOptions, recordAuditor } from "./audit.ts";
import { lagMeter } from "./lag.ts";
import { auditorMetrics } from "./metrics.ts";

/** The auditor's Kafka client id (its reads, and its writes of unreadable records to quarantine). */
export const AUDITOR_CLIENT_ID = "behavior-ingest-auditor";

/** The auditors' consumer group, whether they run in relays or on their own. */
export const AUDITOR_GROUP_ID = "behavior-ingest-auditor";

export interface AuditorOptions extends AuditingOptions {
  brokers: string[];
  connection?: Pick<ConnectionOptions, "sasl" | "tls">;
  /** The consumer group: auditors of one cluster share the work and its committed progress. */
  groupId: string;
  registry: Registry;
  /** How often new tenant topics are looked for, and the lag measured. */
  discoverMs?: number;
  /**
   * Bytes of one partition a fetch brings at most (Kafka's `max.partition.fetch.bytes`): one tenant's
   * backlog fills a fetch with this much per partition, and the other tenants' records come in the
   * same fetch (the broker's fetch session rotates partitions that returned data to the end).
   */
  fetchBytesPerPartition?: number;
  /** The topics to audit: every tenant's event topic unless narrowed (to some tenants' topics). */
  topics?: RegExp;
}

export interface Auditor {
  /** Records behind the log end, all tenant topics together (as last measured). */
  readonly lag: number;
  /** Records behind the log end by tenant, for tenants that have any (as last measured). */
  readonly lagByTenant: ReadonlyMap<string, number>;
  /** Records re-checked since it started. */
  readonly audited: number;
  close(): Promise<void>;
}

/**
 * Re-checks every event any writer put into the tenants' topics: the relay's and the Kafka-direct
 * tracker's (validated before they were written, so the audit finds config drift) and direct writers'
 * that skipped validation. A consumer group over `user-behaviors-<tenant>` (new tenants' topics are
 * picked up as they appear) that only reads: its verdicts go to the quality counts by producer.
 */
export const startAuditor = (options: AuditorOptions): Auditor => {
  const { log } = options;
  const discoverMs = options.discoverMs ?? 10_000;
  const admin = new Admin({
    clientId: AUDITOR_CLIENT_ID,
    bootstrapBrokers: options.brokers,
    ...options.connection,
  });
  const consumer = new Consumer({
    clientId: AUDITOR_CLIENT_ID,
    groupId: options.groupId,
    bootstrapBrokers: options.brokers,
    deserializers: stringDeserializers,
    ...options.connection,
  });
  const metrics = auditorMetrics(options.registry);
  const audit = recordAuditor(options, metrics);
  const lag = lagMeter({ consumer, admin }, options.groupId, metrics);
  const wanted = options.topics ?? /./;
  let audited = 0;
  let closed = false;
  /** Topics being read, each by one of `streams`; a topic whose stream failed is read again. */
  const known = new Set<string>();
  const streams = new Set<MessagesStream<string, string, string, string>>();

  /** Reads new tenants' topics with a stream of their own, so the streams already reading go on. */
  const read = async (topics: string[]) => {
    for (const topic of topics) known.add(topic);
    let stream: MessagesStream<string, string, string, string>;
    try {
      stream = await consumer.consume({
        topics,
        mode: MessagesStreamModes.COMMITTED,
        // A new group starts at the beginning of what Kafka keeps.
        fallbackMode: MessagesStreamFallbackModes.EARLIEST,
        autocommit: false,
        maxWaitTime: 500,
        maxBytesPerPartition: options.fetchBytesPerPartition ?? 1024 * 1024,
      });
    } catch (error) {
      // Not joined (the group's coordinator is not ready yet, the cluster is away): looked for again
      // at the next round, instead of counted as read by a stream that never started.
      for (const topic of topics) known.delete(topic);
      throw error;
    }
    streams.add(stream);
    void (async () => {
      try {
        for await (const message of stream) {
          await audit(message);
          audited++;
          // Committed once counted, not when fetched: a restart re-reads nothing it counted and skips
          // nothing it did not. The stream coalesces a partition's commits into one request at a time.
          void (message.commit() as Promise<void>).catch((error: unknown) =>
            log.warn({ err: error }, "auditor: committing progress failed; those records are read again"),
          );
        }
      } catch (error) {
        if (!closed) log.warn({ err: error, topics }, "auditor: reading topics failed; reading them again");
      } finally {
        streams.delete(stream);
        // Looked for again at the next round (unless closing).
        for (const topic of topics) known.delete(topic);
      }
    })();
  };

  let watching = false;
  const watch = async () => {
    if (watching || closed) return;
    watching = true;
    try {
      const found = (await admin.listTopics()).filter(
        (t) => tenantOfTopic(t) !== undefined && wanted.test(t),
      );
      const fresh = found.filter((t) => !known.has(t));
      if (fresh.length > 0) await read(fresh);
      if (found.length > 0) await lag.measure(found);
    } catch (error) {
      if (!closed) log.warn({ err: error }, "auditor: could not look for topics or measure the lag");
    } finally {
      watching = false;
    }
  };
  void watch();
  const watcher = setInterval(() => void watch(), discoverMs);
  log.info({ groupId: options.groupId }, "auditor started");

  return {
    get lag() {
      return lag.lag;
    },
    get lagByTenant() {
      return lag.lagByTenant;
    },
    get audited() {
      return audited;
    },
    close: async () => {
      closed = true;
      clearInterval(watcher);
      await Promise.all([...streams].map((stream) => stream.close().catch(() => undefined)));
      await consumer.close(true).catch(() => undefined);
      await admin.close().catch(() => undefined);
    },
  };
};
