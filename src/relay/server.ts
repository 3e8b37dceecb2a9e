import { type Logger, pino } from "pino";
import { AUDITOR_GROUP_ID, startAuditor } from "../auditor/auditor.ts";
import { auditedConfigs } from "../auditor/configs.ts";
import { RateLimiter } from "../core/index.ts";
import { tenantTopics } from "../kafka/topics.ts";
import { openKafkaWriter } from "../kafka/writer.ts";
import { EnvKeyStore, KeyStores } from "./auth.ts";
import type { RelaySettings } from "./config.ts";
import type { ConfigSource } from "./config-source.ts";
import { TenantDirectory } from "./directory.ts";
import { EdgeCallVerifier, edgePusher } from "./edge-calls.ts";
import { createHttpApp } from "./http/app.ts";
import { IngestService } from "./ingest.ts";
import { startListeners } from "./listeners.ts";
import { kafkaLiveStreams, LiveSlots } from "./live.ts";
import { createMetrics } from "./metrics.ts";
import { QualityRecorder } from "./quality.ts";
import { requestRecorder } from "./request-log.ts";
import { behaviorHandlers } from "./rpc/service.ts";
import { kafkaConnection } from "./settings/kafka.ts";
import { directorySettingsOf, storeSettingsOf } from "./settings/store.ts";
import { kafkaWriterSettingsOf } from "./settings/write-path.ts";
import { storeDirectorySource } from "./store/directory-source.ts";
import { openRelayStore } from "./store/open.ts";

export interface RunningRelay {
  httpUrl: string;
  grpcUrl: string;
  ingest: IngestService;
  /** Stops accepting, flushes the buffer and the spool (bounded), closes Kafka clients. */
  close(): Promise<void>;
}

/** Wires the relay's parts to real Kafka and a spool directory and starts both listeners. */
export const startRelay = async (
  settings: RelaySettings,
  options: {
    configs?: ConfigSource;
    log?: Logger;
    /** Spool directories other relays left, to deliver beside this relay's own (src/relay/fleet.ts). */
    adopt?: readonly string[];
  } = {},
): Promise<RunningRelay> => {
  const log = options.log ?? pino({ level: settings.LOG_LEVEL, base: { service: "relay" } });
  const metrics = createMetrics();
  const store = openRelayStore(storeSettingsOf(settings));
  const quality = new QualityRecorder({
    registry: metrics.registry,
    store: store.quality,
    log,
    maxCellsPerFlush: settings.QUALITY_FLUSH_MAX_CELLS,
  });
  const kafka = await openKafkaWriter(
    kafkaWriterSettingsOf(settings, (topic, events) => quality.spooled(topic, events)),
    metrics,
    log,
  );
  const { sink } = kafka;
  await store.ensureIndexes(log);
  // Every tenant's configs and keys in memory: the ingest path never waits on the store.
  const directory = new TenantDirectory(
    storeDirectorySource(store.configs, store.keys, store.changes),
    directorySettingsOf(settings),
    log,
    metrics.registry,
  );
  directory.start();
  const keyStore = new KeyStores(new EnvKeyStore(settings.RELAY_API_KEYS), directory);
  const pushToEdges =
    settings.EDGE_SECRET.length > 0
      ? edgePusher(settings.EDGE_PUSH_URLS, settings.EDGE_SECRET, store, log)
      : () => undefined;
  const limiter = new RateLimiter(
    {
      perKey: settings.RATE_LIMIT_KEY_EVENTS_PER_SECOND,
      perTenant: settings.RATE_LIMIT_TENANT_EVENTS_PER_SECOND,
      tenantOverrides: settings.RATE_LIMIT_TENANT_OVERRIDES,
    },
    () => Date.now(),
  );
  const ingest = new IngestService({
    configs: options.configs ?? directory,
    keys: keyStore,
    sink,
    metrics,
    log,
    limiter,
    maxInflightEvents: settings.RELAY_MAX_INFLIGHT_EVENTS,
    maxInflightEventsPerTenant: settings.RELAY_MAX_INFLIGHT_EVENTS_PER_TENANT,
    quality,
  });
  quality.start(settings.QUALITY_FLUSH_MS);
  const pruning = setInterval(
    () =>
      void store.quality
        .prune(Date.now())
        .catch((error: unknown) => log.warn({ err: error }, "old quality aggregates could not be deleted")),
    3_600_000,
  );
  pruning.unref();
  const auditor = settings.AUDITOR_ENABLED
    ? startAuditor({
        brokers: settings.KAFKA_BROKERS,
        connection: kafkaConnection(settings),
        groupId: AUDITOR_GROUP_ID,
        configs: auditedConfigs(directory, store.configs),
        quality,
        // Through the relay's write path: an unreadable record's copy is durable like any refusal.
        quarantine: (records) => kafka.sink.write(records),
        registry: metrics.registry,
        log,
        discoverMs: settings.AUDITOR_DISCOVER_MS,
        fetchBytesPerPartition: settings.AUDITOR_FETCH_BYTES_PER_PARTITION,
        topics: settings.AUDITOR_TOPICS,
      })
    : undefined;

  const edgeCalls = new EdgeCallVerifier(settings.EDGE_SECRET);
  const record = requestRecorder(metrics, log, settings.REQUEST_LOG_PER_SECOND);
  const app = createHttpApp({
    ingest,
    metrics,
    log,
    record,
    bodyBudgetBytes: settings.RELAY_BODY_BUDGET_BYTES,
    directory,
    admin: {
      configs: store.configs,
      keys: store.keys,
      changes: store.changes,
      keyStore,
      directory,
      quality: store.quality,
      adminToken: settings.ADMIN_TOKEN,
      edgeCalls,
      live: kafkaLiveStreams(
        settings.KAFKA_BROKERS,
        kafkaConnection(settings),
        new LiveSlots(
          { max: settings.LIVE_STREAMS_MAX, perTenant: settings.LIVE_STREAMS_PER_TENANT },
          metrics.registry,
        ),
        settings.LIVE_EVENTS_PER_SECOND,
      ),
      now: () => Date.now(),
      provisionTopics: settings.TOPIC_AUTO_CREATE
        ? undefined
        : async (tenantId) => {
            for (const topic of tenantTopics(tenantId)) {
              // The config is stored either way; a cluster that refuses is named in the log.
              await kafka.topics
                .create(topic)
                .catch((error: unknown) =>
                  log.warn(
                    { err: error, topic },
                    `could not create the topic; run npm run topics -- ensure ${tenantId} with credentials that may`,
                  ),
                );
            }
          },
      changedTenant: async (tenantId) => {
        await directory.refresh(tenantId);
        if (tenantId !== null) pushToEdges(tenantId);
      },
    },
  });
  const listeners = await startListeners(settings, {
    rest: app.fetch,
    handlers: behaviorHandlers(ingest, edgeCalls),
    record,
    log,
  });
  const { httpPort, grpcPort } = listeners;
  log.info(
    { httpPort, grpcPort, brokers: settings.KAFKA_BROKERS, spool: settings.SPOOL_DIR },
    "relay listening",
  );
  for (const dir of options.adopt ?? []) {
    kafka
      .adopt(dir)
      .catch((error: unknown) => log.error({ err: error, dir }, "an adopted spool could not be delivered"));
  }

  return {
    httpUrl: `http://${settings.RELAY_HOST}:${httpPort}`,
    grpcUrl: `http://${settings.RELAY_HOST}:${grpcPort}`,
    ingest,
    close: async () => {
      await listeners.close();
      clearInterval(pruning);
      await auditor?.close();
      directory.close();
      await kafka.close();
      // After the write path, whose last spooled counts are the recorder's too.
      await quality.close();
      await store.close();
      log.info("relay stopped");
    },
  };
};
