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
import { type Issue, issue, type TrackingConfig, tenantOfTopic, validateEvent } from "../core/index.ts";
import { VALIDATED_BY_HEADER } from "../kafka/records.ts";
import { kafkaConnection, type RelaySettings, storeSettingsOf } from "./config.ts";
import { TenantDirectory } from "./directory.ts";
import { QualityRecorder } from "./quality.ts";
import { ChangeLog } from "./store/changes.ts";
import { ConfigRepository } from "./store/configs.ts";
import { storeDirectorySource } from "./store/directory-source.ts";
import { KeyRepository } from "./store/keys.ts";
import { MongoConnection } from "./store/mongo.ts";
import { QualityRepository } from "./store/quality.ts";

/** The header a direct writer may set to be named in the audit; without it, it is `unknown`. */
const PRODUCER_HEADER = "producer";

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
  registry: Registry;
  log: Logger;
  /** How often new tenant topics are looked for, and the lag measured. */
  discoverMs?: number;
  /** The topics to audit: every tenant's event topic unless narrowed (to some tenants' topics). */
  topics?: RegExp;
}

export interface Auditor {
  /** Records behind, all tenant topics together (as last measured). */
  readonly lag: number;
  /** Records re-checked since it started. */
  readonly audited: number;
  close(): Promise<void>;
}

/** One record's verdict: the event re-checked against the config version it names (or the current one). */
const auditRecord = async (
  tenantId: string,
  value: string,
  configs: AuditorOptions["configs"],
): Promise<{ event: unknown; ok: boolean; errors: Issue[]; warnings: Issue[] }> => {
  let event: unknown;
  try {
    event = JSON.parse(value);
  } catch (error) {
    // JSON.parse throws SyntaxError for text that is not JSON: a direct writer's record that fails the audit.
    if (!(error instanceof SyntaxError)) throw error;
    const errors = [issue("", "invalid_type", "is not JSON")];
    return {
      event: { tenant_id: tenantId, unreadable: value.slice(0, 200) },
      ok: false,
      errors,
      warnings: [],
    };
  }
  const claimed = event as { tenant_id?: unknown; scenario_id?: unknown; config_version?: unknown } | null;
  const scenario = typeof claimed?.scenario_id === "string" ? claimed.scenario_id : undefined;
  const version = claimed?.config_version;
  const config =
    scenario === undefined
      ? undefined
      : typeof version === "number" && Number.isInteger(version) && version > 0
        ? ((await configs.version(tenantId, scenario, version)) ??
          (await configs.current(tenantId, scenario)))
        : await configs.current(tenantId, scenario);
  const result = validateEvent(event, config);
  const errors = [...result.errors];
  if (claimed?.tenant_id !== tenantId) {
    errors.push(issue("tenant_id", "invalid_value", `is not ${tenantId}, the tenant of the topic`));
  }
  return { event, ok: errors.length === 0, errors, warnings: result.warnings };
};

/** The auditor's metrics: records re-checked by verdict, and how far behind the topics it is. */
export const auditorMetrics = (registry: Registry) => ({
  records: new Counter({
    name: "auditor_records_total",
    help: "Records the auditor re-checked, by verdict",
    labelNames: ["verdict"] as const,
    registers: [registry],
  }),
  lag: new Gauge({
    name: "auditor_lag_records",
    help: "Records written to the tenants' topics that the auditor has not read yet (as last measured)",
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
    clientId: "behavior-ingest-auditor",
    bootstrapBrokers: options.brokers,
    ...options.connection,
  });
  const consumer = new Consumer({
    clientId: "behavior-ingest-auditor",
    groupId: options.groupId,
    bootstrapBrokers: options.brokers,
    deserializers: stringDeserializers,
    ...options.connection,
  });
  const metrics = auditorMetrics(options.registry);
  const wanted = options.topics ?? /./;
  let lag = 0;
  let audited = 0;
  let closed = false;
  /** Topics being read, each by one of `streams`; a topic whose stream failed is read again. */
  const known = new Set<string>();
  const streams = new Set<MessagesStream<string, string, string, string>>();

  const audit = async (message: Message<string, string, string, string>) => {
    // Only tenants' event topics are read.
    const tenantId = tenantOfTopic(message.topic) as string;
    const verdict = await auditRecord(tenantId, message.value ?? "", options.configs);
    const by = message.headers.get(VALIDATED_BY_HEADER);
    const producer =
      by === undefined
        ? { name: message.headers.get(PRODUCER_HEADER) ?? "unknown", validated: false }
        : { name: by, validated: true };
    quality.audited(tenantId, verdict.event, verdict, producer);
    metrics.records.inc({ verdict: verdict.ok ? "passed" : "failed" });
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
    const stream = await consumer.consume({
      topics,
      mode: MessagesStreamModes.COMMITTED,
      // A new group starts at the beginning of what Kafka keeps.
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      autocommit: false,
      maxWaitTime: 500,
    });
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
      if (known.size > 0) {
        const lags = await consumer.getLag({ topics: [...known] });
        lag = [...lags.values()].flat().reduce((sum, n) => sum + Math.max(0, Number(n)), 0);
        metrics.lag.set(lag);
      }
    } catch (error) {
      if (!closed) log.warn({ err: error }, "auditor: could not look for topics");
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
  const auditor = startAuditor({
    brokers: settings.KAFKA_BROKERS,
    connection: kafkaConnection(settings),
    groupId: AUDITOR_GROUP_ID,
    configs: auditedConfigs(directory, configs),
    quality,
    registry: options.registry,
    log,
    discoverMs: settings.AUDITOR_DISCOVER_MS,
    topics: options.topics ?? settings.AUDITOR_TOPICS,
  });
  return {
    get lag() {
      return auditor.lag;
    },
    get audited() {
      return auditor.audited;
    },
    close: async () => {
      await auditor.close();
      directory.close();
      await quality.close();
      await mongo.close();
    },
  };
};
