import {
  Admin,
  type ConnectionOptions,
  Consumer,
  type Message,
  type MessagesStream,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  stringDeserializers,
} from "@platformatic/kafka";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import {
  type Issue,
  issue,
  quarantineRecord,
  readStoredEvent,
  type TrackingConfig,
  tenantOfTopic,
  validateEvent,
} from "../core/index.ts";
import { platformaticProducer } from "../kafka/producer.ts";
import { type EventRecord, VALIDATED_BY_HEADER } from "../kafka/records.ts";
import { TopicProvisioner } from "../kafka/topics.ts";
import { kafkaConnection, type RelaySettings, storeSettingsOf, topicSettingsOf } from "../relay/config.ts";
import { TenantDirectory } from "../relay/directory.ts";
import { QualityRecorder } from "../relay/quality.ts";
import { ChangeLog } from "../relay/store/changes.ts";
import { ConfigRepository } from "../relay/store/configs.ts";
import { storeDirectorySource } from "../relay/store/directory-source.ts";
import { KeyRepository } from "../relay/store/keys.ts";
import { MongoConnection } from "../relay/store/mongo.ts";
import { QualityRepository } from "../relay/store/quality.ts";

/** The header a direct writer may set to be named in the audit; without it, it is `unknown`. */
const PRODUCER_HEADER = "producer";

/** The auditor's Kafka client id (its reads, and its writes of unreadable records to quarantine). */
const AUDITOR_CLIENT_ID = "behavior-ingest-auditor";

/** The auditors' consumer group, whether they run in relays or on their own. */
export const AUDITOR_GROUP_ID = "behavior-ingest-auditor";

/** How many config versions the auditor keeps at hand (a version never changes once written). */
const VERSIONS_KEPT = 1000;

/** The auditor's config lookups: current ones through the relay's cache, versions from the store. */
export const auditedConfigs = (
  current: { get(tenantId: string, scenarioId: string): Promise<TrackingConfig | undefined> },
  store: {
    getVersion(tenantId: string, scenarioId: string, version: number): Promise<TrackingConfig | undefined>;
  },
): AuditorOptions["configs"] => {
  const versions = new Map<string, TrackingConfig | undefined>();
  return {
    current: (tenantId, scenarioId) => current.get(tenantId, scenarioId),
    version: async (tenantId, scenarioId, version) => {
      const key = `${tenantId}/${scenarioId}/${version}`;
      if (versions.has(key)) return versions.get(key);
      const config = await store.getVersion(tenantId, scenarioId, version);
      if (versions.size >= VERSIONS_KEPT) versions.clear();
      versions.set(key, config);
      return config;
    },
  };
};

export interface AuditorOptions {
  brokers: string[];
  connection?: Pick<ConnectionOptions, "sasl" | "tls">;
  /** The consumer group: auditors of one cluster share the work and its committed progress. */
  groupId: string;
  /** Tracking configs: the current one of a scenario, and the version an event names. */
  configs: {
    current(tenantId: string, scenarioId: string): Promise<TrackingConfig | undefined>;
    version(tenantId: string, scenarioId: string, version: number): Promise<TrackingConfig | undefined>;
  };
  quality: QualityRecorder;
  /**
   * Keeps records that are no event (a tombstone, not JSON, nested too deep, not an object) in their
   * tenants' `-rejected` topics, reason `unreadable`: the relay's write path, or a producer of its own.
   */
  quarantine(records: EventRecord[]): Promise<void>;
  registry: Registry;
  log: Logger;
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

/** One event's verdict: re-checked against the config version it names (or the current one). */
const auditEvent = async (
  tenantId: string,
  event: Record<string, unknown>,
  configs: AuditorOptions["configs"],
): Promise<{ ok: boolean; errors: Issue[]; warnings: Issue[] }> => {
  const scenario = typeof event.scenario_id === "string" ? event.scenario_id : undefined;
  const version = event.config_version;
  const config =
    scenario === undefined
      ? undefined
      : typeof version === "number" && Number.isInteger(version) && version > 0
        ? ((await configs.version(tenantId, scenario, version)) ??
          (await configs.current(tenantId, scenario)))
        : await configs.current(tenantId, scenario);
  const result = validateEvent(event, config);
  const errors = [...result.errors];
  if (event.tenant_id !== tenantId) {
    errors.push(issue("tenant_id", "invalid_value", `is not ${tenantId}, the tenant of the topic`));
  }
  return { ok: errors.length === 0, errors, warnings: result.warnings };
};

/** The auditor's metrics: records re-checked by verdict, what it could not read, how far behind it is. */
export const auditorMetrics = (registry: Registry) => ({
  records: new Counter({
    name: "auditor_records_total",
    help: "Records the auditor read, by verdict: passed, failed (the check), unreadable (no event at all)",
    labelNames: ["verdict"] as const,
    registers: [registry],
  }),
  unreadable: new Counter({
    name: "auditor_unreadable_records_total",
    help: "Records of a tenant's topic that are no event (no_value, not_json, too_deep, not_an_object): quarantined as unreadable and skipped",
    labelNames: ["tenant", "reason"] as const,
    registers: [registry],
  }),
  quarantineFailures: new Counter({
    name: "auditor_quarantine_failures_total",
    help: "Unreadable records the auditor could not copy to their -rejected topic (skipped all the same: the record stays in its topic)",
    registers: [registry],
  }),
  lag: new Gauge({
    name: "auditor_lag_records",
    help: "Records in the tenants' topics past the auditors' committed offsets, up to the log end (as last measured)",
    registers: [registry],
  }),
  tenantLag: new Gauge({
    name: "auditor_tenant_lag_records",
    help: "Records in one tenant's topic past the auditors' committed offsets; tenants with none are not listed",
    labelNames: ["tenant"] as const,
    registers: [registry],
  }),
});

/**
 * Re-checks every event any writer put into the tenants' topics: the relay's and the Kafka-direct
 * tracker's (validated before they were written, so the audit finds config drift) and direct writers'
 * that skipped validation. A consumer group over `user-behaviors-<tenant>` (new tenants' topics are
 * picked up as they appear) that only reads: its verdicts go to the quality counts by producer.
 */
export const startAuditor = (options: AuditorOptions): Auditor => {
  const { log, quality } = options;
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
  const wanted = options.topics ?? /./;
  let lag = 0;
  let lagByTenant: ReadonlyMap<string, number> = new Map();
  let audited = 0;
  let closed = false;
  /** Topics being read, each by one of `streams`; a topic whose stream failed is read again. */
  const known = new Set<string>();
  const streams = new Set<MessagesStream<string, string, string, string>>();

  /**
   * A record that is no event: counted by tenant and reason, copied to the tenant's `-rejected` topic
   * with why, and passed over like any other, so the reader goes on to the records behind it.
   */
  const setAside = async (
    tenantId: string,
    message: Message<string, string, string, string>,
    unreadable: { unreadable: string; message: string },
  ) => {
    metrics.unreadable.inc({ tenant: tenantId, reason: unreadable.unreadable });
    const where = `partition ${message.partition}, offset ${message.offset}`;
    const errors = [{ path: "", code: unreadable.unreadable, message: `${unreadable.message} (${where})` }];
    const record = quarantineRecord(
      tenantId,
      { reason: "unreadable", errors, event: message.value ?? null },
      Date.now(),
    );
    try {
      await options.quarantine([{ ...record, eventId: "" }]);
    } catch (error) {
      // Not kept twice is no loss: the record itself stays in its topic, and the count says it is there.
      metrics.quarantineFailures.inc();
      log.warn(
        { err: error, topic: message.topic, where },
        "auditor: could not quarantine an unreadable record",
      );
    }
  };

  const audit = async (message: Message<string, string, string, string>) => {
    // Only tenants' event topics are read.
    const tenantId = tenantOfTopic(message.topic) as string;
    const by = message.headers.get(VALIDATED_BY_HEADER);
    const producer =
      by === undefined
        ? { name: message.headers.get(PRODUCER_HEADER) ?? "unknown", validated: false }
        : { name: by, validated: true };
    // The client leaves a tombstone's value undefined, whatever its type says.
    const read = readStoredEvent(message.value as string | undefined);
    if (read.ok) {
      const verdict = await auditEvent(tenantId, read.event, options.configs);
      quality.audited(tenantId, read.event, verdict, producer);
      metrics.records.inc({ verdict: verdict.ok ? "passed" : "failed" });
    } else {
      await setAside(tenantId, message, read);
      // In the tenant's figures as a record of its producer that fails the check.
      const verdict = { ok: false, errors: [issue("", "invalid_type", read.message)], warnings: [] };
      quality.audited(tenantId, { tenant_id: tenantId }, verdict, producer);
      metrics.records.inc({ verdict: "unreadable" });
    }
    audited++;
    // Committed once counted, not when fetched: a restart re-reads nothing it counted and skips
    // nothing it did not. The stream coalesces a partition's commits into one request at a time.
    void (message.commit() as Promise<void>).catch((error: unknown) =>
      log.warn({ err: error }, "auditor: committing progress failed; those records are read again"),
    );
  };

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
        for await (const message of stream) await audit(message);
      } catch (error) {
        if (!closed) log.warn({ err: error, topics }, "auditor: reading topics failed; reading them again");
      } finally {
        streams.delete(stream);
        // Looked for again at the next round (unless closing).
        for (const topic of topics) known.delete(topic);
      }
    })();
  };

  /**
   * Lag by tenant: per partition, the log end offset less the group's committed offset (the log start
   * where it has none). Measured from the broker, not from the streams: an auditor that fails on a
   * record, restarts and fails again commits nothing, and its lag grows with every record written.
   */
  const measureLag = async (topics: string[]) => {
    const [ends, starts, groups] = await Promise.all([
      consumer.listOffsets({ topics }),
      consumer.listOffsets({ topics, timestamp: -2n }),
      admin.listConsumerGroupOffsets({ groups: [options.groupId] }),
    ]);
    const committed = new Map<string, bigint>();
    for (const topic of groups[0]?.topics ?? []) {
      for (const p of topic.partitions) committed.set(`${topic.name}/${p.partitionIndex}`, p.committedOffset);
    }
    const byTenant = new Map<string, number>();
    for (const topic of topics) {
      const first = starts.get(topic) ?? [];
      let behind = 0;
      (ends.get(topic) ?? []).forEach((end, partition) => {
        const start = first[partition] ?? 0n;
        const at = committed.get(`${topic}/${partition}`) ?? -1n;
        const from = at < start ? start : at;
        if (end > from) behind += Number(end - from);
      });
      if (behind > 0) byTenant.set(tenantOfTopic(topic) as string, behind);
    }
    for (const tenant of lagByTenant.keys()) {
      if (!byTenant.has(tenant)) metrics.tenantLag.remove({ tenant });
    }
    for (const [tenant, behind] of byTenant) metrics.tenantLag.set({ tenant }, behind);
    lagByTenant = byTenant;
    lag = [...byTenant.values()].reduce((sum, n) => sum + n, 0);
    metrics.lag.set(lag);
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
      if (found.length > 0) await measureLag(found);
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
      return lag;
    },
    get lagByTenant() {
      return lagByTenant;
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

/**
 * The auditor as its own process runs it: MongoDB for configs and the quality aggregates, its counts
 * flushed like a relay's. `topics` narrows it to some tenants' topics.
 */
export const startStandaloneAuditor = async (
  settings: RelaySettings,
  options: { registry: Registry; log: Logger; topics?: RegExp },
): Promise<Auditor> => {
  const { log } = options;
  const mongo = new MongoConnection(storeSettingsOf(settings));
  const changes = new ChangeLog(mongo);
  const configs = new ConfigRepository(mongo, changes);
  const store = new QualityRepository(mongo);
  await store
    .ensureIndexes()
    .catch((error: unknown) => log.warn({ err: error }, "MongoDB is not reachable yet"));
  const quality = new QualityRecorder({
    registry: options.registry,
    store,
    log,
    maxCellsPerFlush: settings.QUALITY_FLUSH_MAX_CELLS,
  });
  quality.start(settings.QUALITY_FLUSH_MS);
  const directory = new TenantDirectory(
    storeDirectorySource(configs, new KeyRepository(mongo, changes), changes),
    { pollMs: settings.DIRECTORY_POLL_MS, lookupDeadlineMs: settings.DIRECTORY_LOOKUP_DEADLINE_MS },
    log,
    options.registry,
  );
  directory.start();
  // Unreadable records go to their -rejected topics straight (the relay's auditor uses its write path):
  // nothing is lost when that fails, since the record stays in its topic.
  const connection = kafkaConnection(settings);
  const admin = new Admin({
    clientId: AUDITOR_CLIENT_ID,
    bootstrapBrokers: settings.KAFKA_BROKERS,
    ...connection,
  });
  const topics = new TopicProvisioner(admin, topicSettingsOf(settings));
  const producer = platformaticProducer({
    clientId: AUDITOR_CLIENT_ID,
    brokers: settings.KAFKA_BROKERS,
    connection,
    compression: settings.KAFKA_COMPRESSION,
    requestTimeoutMs: settings.KAFKA_REQUEST_TIMEOUT_MS,
    retryForMs: settings.KAFKA_ACK_TIMEOUT_MS,
  });
  const auditor = startAuditor({
    brokers: settings.KAFKA_BROKERS,
    connection,
    groupId: AUDITOR_GROUP_ID,
    configs: auditedConfigs(directory, configs),
    quality,
    quarantine: async (records) => {
      for (const topic of new Set(records.map((r) => r.topic))) await topics.ensure(topic);
      await producer.send(records);
    },
    registry: options.registry,
    log,
    discoverMs: settings.AUDITOR_DISCOVER_MS,
    fetchBytesPerPartition: settings.AUDITOR_FETCH_BYTES_PER_PARTITION,
    topics: options.topics ?? settings.AUDITOR_TOPICS,
  });
  return {
    get lag() {
      return auditor.lag;
    },
    get lagByTenant() {
      return auditor.lagByTenant;
    },
    get audited() {
      return auditor.audited;
    },
    close: async () => {
      await auditor.close();
      await producer.close().catch(() => undefined);
      await admin.close().catch(() => undefined);
      directory.close();
      await quality.close();
      await mongo.close();
    },
  };
};
