// The auditor on its own (`npm run auditor`): the relay's settings (Kafka, MongoDB), its metrics on
// AUDITOR_METRICS_PORT, graceful stop on SIGTERM/SIGINT. A relay runs the same with AUDITOR_ENABLED=true.
import { createServer } from "node:http";
import { pino } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { AUDITOR_GROUP_ID, auditedConfigs, startAuditor } from "./auditor.ts";
import { kafkaConnection, loadSettings } from "./config.ts";
import { CachedConfigSource } from "./config-source.ts";
import { QualityRecorder } from "./quality.ts";
import { ChangeLog } from "./store/changes.ts";
import { ConfigRepository } from "./store/configs.ts";
import { MongoConnection } from "./store/mongo.ts";
import { QualityRepository } from "./store/quality.ts";

const settings = loadSettings(process.env);
const port = Number(process.env.AUDITOR_METRICS_PORT ?? 8092);
const log = pino({ level: settings.LOG_LEVEL, base: { service: "auditor" } });
const registry = new Registry();
collectDefaultMetrics({ register: registry });
const mongo = new MongoConnection(settings.MONGODB_URI, settings.MONGODB_DB);
const db = () => mongo.db();
const configs = new ConfigRepository(db, new ChangeLog(db));
const qualityRepository = new QualityRepository(db);
await qualityRepository
  .ensureIndexes()
  .catch((error: unknown) => log.warn({ err: error }, "MongoDB is not reachable yet"));
const quality = new QualityRecorder({ registry, store: qualityRepository, log });
quality.start(settings.QUALITY_FLUSH_MS);
const cache = new CachedConfigSource(
  (tenant, scenario) => configs.get(tenant, scenario),
  settings.CONFIG_CACHE_MS,
  (error) => log.warn({ err: error }, "reading a tracking config failed; using the cached one"),
);
const auditor = startAuditor({
  brokers: settings.KAFKA_BROKERS,
  connection: kafkaConnection(settings),
  groupId: AUDITOR_GROUP_ID,
  configs: auditedConfigs(cache, configs),
  quality,
  registry,
  log,
  discoverMs: settings.AUDITOR_DISCOVER_MS,
});
const metrics = createServer((req, res) => {
  if (req.url !== "/metrics") return res.writeHead(404).end();
  void registry
    .metrics()
    .then((text) => res.writeHead(200, { "content-type": registry.contentType }).end(text));
});
metrics.listen(port, settings.RELAY_HOST, () => log.info({ port }, "auditor metrics listening"));

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`auditor: ${signal}, stopping\n`);
  metrics.close();
  await auditor.close();
  await quality.close();
  await mongo.close();
  process.exit(0);
};
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
