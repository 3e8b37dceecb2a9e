import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { type Logger, pino } from "pino";
import { AUDITOR_GROUP_ID, startAuditor } from "../auditor/auditor.ts";
import { auditedConfigs } from "../auditor/configs.ts";
import { MAX_REQUEST_BYTES, PROBLEM_CONTENT_TYPE, problem, RateLimiter } from "../core/index.ts";
import { BehaviorService } from "../gen/recommender/v1/behavior_pb.js";
import { EdgeForwardingService } from "../gen/recommender/v1/edge_pb.js";
import { tenantTopics } from "../kafka/topics.ts";
import { openKafkaWriter } from "../kafka/writer.ts";
import { EnvKeyStore, KeyStores } from "./auth.ts";
import type { RelaySettings } from "./config.ts";
import type { ConfigSource } from "./config-source.ts";
import { TenantDirectory } from "./directory.ts";
import { EdgeCallVerifier, edgePusher } from "./edge-calls.ts";
import { createHttpApp } from "./http/app.ts";
import { IngestService } from "./ingest.ts";
import { kafkaLiveStreams, LiveSlots } from "./live.ts";
import { createMetrics } from "./metrics.ts";
import { QualityRecorder } from "./quality.ts";
import { requestRecorder } from "./request-log.ts";
import { connectHandler } from "./rpc/connect-json.ts";
import { createGrpcServer, grpcJsService } from "./rpc/grpc-server.ts";
import { rawBehaviorMethods } from "./rpc/raw-requests.ts";
import { behaviorHandlers, connectRoutes } from "./rpc/service.ts";
import { kafkaConnection } from "./settings/kafka.ts";
import { storeSettingsOf } from "./settings/store.ts";
import { topicSettingsOf } from "./settings/write-path.ts";
import { ChangeLog } from "./store/changes.ts";
import { ConfigRepository } from "./store/configs.ts";
import { storeDirectorySource } from "./store/directory-source.ts";
import { KeyRepository } from "./store/keys.ts";
import { MongoConnection } from "./store/mongo.ts";
import { QualityRepository } from "./store/quality.ts";

export interface RunningRelay {
  httpUrl: string;
  grpcUrl: string;
  ingest: IngestService;
  /** Stops accepting, flushes the buffer and the spool (bounded), closes Kafka clients. */
  close(): Promise<void>;
}

const listen = (server: Server, port: number, host: string) =>
  new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });

/** Stops a listener and ends its open connections (HTTP/1.1 keep-alive sockets). */
const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

/** The start of every RPC path the relay serves (`/recommender.v1.BehaviorService/TrackEvent`…). */
const RPC_PATH_PREFIX = "/recommender.v1.";

/** Calls one gRPC connection may have under way at once. */
const GRPC_MAX_CONCURRENT_STREAMS = 256;

/** How much of an over-limit body the relay reads and discards so that its client can read the 413. */
const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
const DRAIN_MAX_MS = 10_000;

/**
 * Answers a request whose declared body is over the limit with the 413 problem+json at once, then
 * reads and discards the body (up to a bound in bytes and time); only past the bound is the connection
 * cut. Clients that write the whole body before reading (Python's http.client and requests) would
 * otherwise get a reset instead of the answer (`Connection: close` too makes Node drop the unread body).
 */
const refuseOversized = (req: IncomingMessage, res: ServerResponse) => {
  const body = JSON.stringify(
    problem("payload_too_large", `the body may be at most ${MAX_REQUEST_BYTES} bytes`),
  );
  res.writeHead(413, {
    "content-type": PROBLEM_CONTENT_TYPE,
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
  let drained = 0;
  const stop = () => {
    clearTimeout(timer);
    req.socket.destroySoon();
  };
  const timer = setTimeout(stop, DRAIN_MAX_MS);
  req.on("data", (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_MAX_BYTES) stop();
  });
  req.once("end", () => clearTimeout(timer));
  req.resume();
};

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
  const mongo = new MongoConnection(storeSettingsOf(settings));
  const qualityRepository = new QualityRepository(mongo);
  const quality = new QualityRecorder({
    registry: metrics.registry,
    store: qualityRepository,
    log,
    maxCellsPerFlush: settings.QUALITY_FLUSH_MAX_CELLS,
  });
  const kafka = await openKafkaWriter(
    {
      clientId: settings.KAFKA_CLIENT_ID,
      brokers: settings.KAFKA_BROKERS,
      connection: kafkaConnection(settings),
      compression: settings.KAFKA_COMPRESSION,
      lingerMs: settings.KAFKA_LINGER_MS,
      flushAtEvents: settings.KAFKA_BATCH_MAX_EVENTS,
      maxBatchEvents: settings.KAFKA_BATCH_MAX_EVENTS,
      maxBatchBytes: settings.KAFKA_BATCH_MAX_BYTES,
      hotKeyEventsPerSecond: settings.HOT_KEY_EVENTS_PER_SECOND,
      ackTimeoutMs: settings.KAFKA_ACK_TIMEOUT_MS,
      requestTimeoutMs: settings.KAFKA_REQUEST_TIMEOUT_MS,
      connections: settings.KAFKA_PRODUCER_CONNECTIONS,
      bufferMaxEvents: settings.KAFKA_BUFFER_MAX_EVENTS,
      bufferTopicMaxEvents: settings.KAFKA_BUFFER_TOPIC_MAX_EVENTS,
      spoolDir: settings.SPOOL_DIR,
      spoolMaxBytes: settings.SPOOL_MAX_BYTES,
      spoolTopicMaxBytes: settings.SPOOL_TOPIC_MAX_BYTES,
      deadLetters: {
        maxBytes: settings.DEAD_LETTER_MAX_BYTES,
        tenantMaxBytes: settings.DEAD_LETTER_TENANT_MAX_BYTES,
      },
      topics: topicSettingsOf(settings),
      onSpooled: (topic, events) => quality.spooled(topic, events),
    },
    metrics,
    log,
  );
  const { sink } = kafka;
  const changes = new ChangeLog(mongo);
  const configRepository = new ConfigRepository(mongo, changes);
  const keyRepository = new KeyRepository(mongo, changes);
  await Promise.all([
    configRepository.ensureIndexes(),
    keyRepository.ensureIndexes(),
    qualityRepository.ensureIndexes(),
  ]).catch((error: unknown) =>
    log.warn({ err: error }, "MongoDB is not reachable; the tenant directory loads once it is"),
  );
  // Every tenant's configs and keys in memory: the ingest path never waits on the store.
  const directory = new TenantDirectory(
    storeDirectorySource(configRepository, keyRepository, changes),
    { pollMs: settings.DIRECTORY_POLL_MS, lookupDeadlineMs: settings.DIRECTORY_LOOKUP_DEADLINE_MS },
    log,
    metrics.registry,
  );
  directory.start();
  const keyStore = new KeyStores(new EnvKeyStore(settings.RELAY_API_KEYS), directory);
  const pushToEdges =
    settings.EDGE_SECRET.length > 0
      ? edgePusher(
          settings.EDGE_PUSH_URLS,
          settings.EDGE_SECRET,
          { configs: configRepository, keys: keyRepository },
          log,
        )
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
      void qualityRepository
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
        configs: auditedConfigs(directory, configRepository),
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
  const handlers = behaviorHandlers(ingest, edgeCalls);
  // The same body limit as REST: a larger message is refused before it is buffered.
  const limits = { readMaxBytes: MAX_REQUEST_BYTES };
  const record = requestRecorder(metrics, log, settings.REQUEST_LOG_PER_SECOND);
  const app = createHttpApp({
    ingest,
    metrics,
    log,
    record,
    bodyBudgetBytes: settings.RELAY_BODY_BUDGET_BYTES,
    directory,
    admin: {
      configs: configRepository,
      keys: keyRepository,
      changes,
      keyStore,
      directory,
      quality: qualityRepository,
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
  // :8080 serves Connect and gRPC-Web for the service and hands every other path to the REST app.
  const rest = getRequestListener(app.fetch);
  const rpc = connectHandler({
    jsonRoutes: connectRoutes(handlers, "json"),
    binaryRoutes: connectRoutes(handlers, "binary"),
    ...limits,
  });
  const httpServer = createHttpServer(
    {
      // A client that trickles its request (slowloris) is answered 408 and cut off, not waited for;
      // Node checks requests under way for both every connectionsCheckingInterval.
      requestTimeout: settings.RELAY_REQUEST_TIMEOUT_MS,
      headersTimeout: settings.RELAY_HEADERS_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(30_000, settings.RELAY_HEADERS_TIMEOUT_MS / 2),
      // Idle connections are left for the load balancer in front to close (docs/operations.md).
      keepAliveTimeout: settings.RELAY_KEEP_ALIVE_TIMEOUT_MS,
    },
    (req, res) => {
      // RPC paths are /<package>.<Service>/<Method>; only those go through Connect's adapter.
      if (req.url?.startsWith(RPC_PATH_PREFIX)) {
        // Connect, gRPC-Web and the edge's forwarding: measured and logged like REST and gRPC calls.
        const started = performance.now();
        res.once("finish", () =>
          record({
            route: (req.url ?? "").split("?")[0]?.slice(RPC_PATH_PREFIX.length) ?? "",
            method: "connect",
            status: String(res.statusCode),
            seconds: (performance.now() - started) / 1000,
          }),
        );
        rpc(req, res);
      } else if (Number(req.headers["content-length"]) > MAX_REQUEST_BYTES) refuseOversized(req, res);
      else void rest(req, res);
    },
  );
  // :50051 serves gRPC over cleartext HTTP/2 for internal clients in any language.
  const grpcServer = createGrpcServer(
    [
      grpcJsService(BehaviorService, handlers.behavior, log, record, rawBehaviorMethods),
      grpcJsService(EdgeForwardingService, handlers.edgeForwarding, log, record),
    ],
    { maxConcurrentStreams: GRPC_MAX_CONCURRENT_STREAMS, maxMessageBytes: MAX_REQUEST_BYTES },
  );
  const httpPort = await listen(httpServer, settings.RELAY_HTTP_PORT, settings.RELAY_HOST);
  const grpcPort = await grpcServer.listen(settings.RELAY_HOST, settings.RELAY_GRPC_PORT);
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
      grpcServer.close();
      await closeServer(httpServer);
      clearInterval(pruning);
      await auditor?.close();
      directory.close();
      await kafka.close();
      // After the write path, whose last spooled counts are the recorder's too.
      await quality.close();
      await mongo.close();
      log.info("relay stopped");
    },
  };
};
