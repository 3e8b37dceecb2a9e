import { Admin } from "@platformatic/kafka";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { platformaticProducer } from "../kafka/producer.ts";
import { TopicProvisioner } from "../kafka/topics.ts";
import type { RelaySettings } from "../relay/config.ts";
import { TenantDirectory } from "../relay/directory.ts";
import { QualityRecorder } from "../relay/quality.ts";
import { kafkaConnection } from "../relay/settings/kafka.ts";
import { directorySettingsOf, storeSettingsOf } from "../relay/settings/store.ts";
import { producerSettingsOf, topicSettingsOf } from "../relay/settings/write-path.ts";
import { ChangeLog } from "../relay/store/changes.ts";
import { ConfigRepository } from "../relay/store/configs.ts";
import { storeDirectorySource } from "../relay/store/directory-source.ts";
import { KeyRepository } from "../relay/store/keys.ts";
import { MongoConnection } from "../relay/store/mongo.ts";
import { QualityRepository } from "../relay/store/quality.ts";
import { AUDITOR_CLIENT_ID, AUDITOR_GROUP_ID, type Auditor, startAuditor } from "./auditor.ts";
import { auditedConfigs } from "./configs.ts";

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
    directorySettingsOf(settings),
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
  const producer = platformaticProducer(producerSettingsOf(settings, AUDITOR_CLIENT_ID));
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
