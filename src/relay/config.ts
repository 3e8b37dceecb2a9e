import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { ConnectionOptions } from "@platformatic/kafka";
import * as z from "zod";
import { EdgeSecretSetting, intSetting as int, parseSettings, rateLimitSettings } from "../core/index.ts";
import { PRODUCER_CONNECTIONS } from "../kafka/producer.ts";
import type { TopicSettings } from "../kafka/topics.ts";
import type { StoreSettings } from "./store/mongo.ts";

const list = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value) =>
      value
        .split(",")
        .map((item) => item.trim())
        .filter(Boolean),
    );

/** Kafka's bootstrap brokers, comma-separated: the relay's, and the CLI's for `tail` and `dead-letters`. */
export const KafkaBrokersSetting = list("127.0.0.1:9092").pipe(z.array(z.string().min(1)).min(1));

/**
 * The relay's HTTP/1.1 keep-alive timeout unless set: above the 60 s idle timeout of common load
 * balancers and proxies (AWS's Application Load Balancer, nginx's upstream keep-alive), where Node's own
 * default is 5 s.
 */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** The headers timeout unless set (and RELAY_REQUEST_TIMEOUT_MS is not shorter). */
const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;

/** Every setting of the relay, from the environment, parsed once at start-up (defaults suit a laptop). */
export const RelaySettings = z
  .object({
    RELAY_HOST: z.string().default("127.0.0.1"),
    /**
     * Relay processes on this host sharing the ports (node:cluster), each with its own spool under
     * SPOOL_DIR (`worker-N`); `auto`: one per core. A worker that dies is replaced and replays its spool.
     */
    RELAY_WORKERS: z
      .union([z.literal("auto").transform(() => availableParallelism()), z.coerce.number().int().min(1)])
      .default(1),
    /** Which worker of a fleet this process is (1…RELAY_WORKERS): set by the fleet's primary, not by hand. */
    RELAY_WORKER_ID: int(1, 1),
    RELAY_HTTP_PORT: int(8080),
    RELAY_GRPC_PORT: int(50051),
    /**
     * A request (headers and body) must arrive within this time of its first byte; a slower one gets 408
     * and its connection is closed (a client that trickles its request, slowloris, is not waited for).
     */
    RELAY_REQUEST_TIMEOUT_MS: int(30_000, 1000),
    /**
     * A request's headers must arrive within this time of its first byte, else 408: at most
     * RELAY_REQUEST_TIMEOUT_MS (Node's own rule). Unset: 10 s, or RELAY_REQUEST_TIMEOUT_MS when that is
     * shorter. Only a request under way is timed: an idle kept-alive connection is not (see below).
     */
    RELAY_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1000).optional(),
    /**
     * How long an HTTP/1.1 connection may stay idle after an answer before the relay closes it. Longer
     * than the idle timeout of the load balancer or proxy in front (60 s for most), so that the balancer,
     * not the relay, closes idle connections: a request it sends on a connection the relay is closing at
     * that moment would be lost (a 502, or "other side closed" at a direct client).
     */
    RELAY_KEEP_ALIVE_TIMEOUT_MS: int(DEFAULT_KEEP_ALIVE_TIMEOUT_MS, 1000),
    /**
     * REST request-body bytes held at once; beyond it 429 `overloaded` (Retry-After 1), so a flood of large
     * bodies costs refusals, not memory. At least one full request (1 MiB).
     */
    RELAY_BODY_BUDGET_BYTES: int(32 * 1024 * 1024, 1024 * 1024),
    /**
     * Events being handled at once over every transport (REST, Connect, gRPC, the edge's calls); beyond
     * it calls get 429 / RESOURCE_EXHAUSTED `overloaded` (retry in a second), so an overloaded relay
     * refuses work instead of running out of memory. At least one full batch.
     */
    RELAY_MAX_INFLIGHT_EVENTS: int(5000, 100),
    /**
     * A tenant's share of RELAY_MAX_INFLIGHT_EVENTS: a tenant whose events wait (its topic missing, its
     * partitions slow) holds at most this many, and others still have room. At least one full batch.
     */
    RELAY_MAX_INFLIGHT_EVENTS_PER_TENANT: int(2500, 100),
    KAFKA_BROKERS: KafkaBrokersSetting,
    KAFKA_CLIENT_ID: z.string().default("behavior-relay"),
    /** PLAINTEXT locally; SASL_SSL against a managed cluster (docs/security.md). */
    KAFKA_SECURITY_PROTOCOL: z.enum(["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]).default("PLAINTEXT"),
    KAFKA_SASL_MECHANISM: z.enum(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]).default("SCRAM-SHA-512"),
    KAFKA_SASL_USERNAME: z.string().min(1).optional(),
    KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
    /** PEM files: the CA that signed the brokers' certificates, and a client certificate and key for mTLS. */
    KAFKA_TLS_CA_FILE: z.string().min(1).optional(),
    KAFKA_TLS_CERT_FILE: z.string().min(1).optional(),
    KAFKA_TLS_KEY_FILE: z.string().min(1).optional(),
    KAFKA_COMPRESSION: z.enum(["none", "gzip", "snappy", "lz4", "zstd"]).default("gzip"),
    /** How long a batch may wait for more events before it is sent. */
    KAFKA_LINGER_MS: int(5),
    /** Events per produce request at most. */
    KAFKA_BATCH_MAX_EVENTS: int(1000, 1),
    /**
     * Bytes per produce request at most, under the broker's `message.max.bytes` (1 MiB by default), so
     * legal events never form a batch Kafka refuses. At least one largest event (32 KiB) and its
     * quarantine record (64 KiB).
     */
    KAFKA_BATCH_MAX_BYTES: int(900_000, 128 * 1024),
    /** Events waiting for Kafka at most; beyond it new events go to the spool (bounded memory). */
    KAFKA_BUFFER_MAX_EVENTS: int(20_000, 1),
    /** Events waiting for Kafka in one tenant's topic at most (its share); beyond it they go to its spool. */
    KAFKA_BUFFER_TOPIC_MAX_EVENTS: int(5000, 1),
    /**
     * A batch not acknowledged within this time is backed up to the spool so its callers can be answered;
     * the request goes on, and if it lands, the backup is not sent again.
     */
    KAFKA_ACK_TIMEOUT_MS: int(5000, 100),
    /**
     * Events per second of one user in one tenant beyond which the excess is written without the user
     * key, spread over the topic's partitions (header `hot_key`): the one place where per-user order is
     * traded for availability. 0 turns it off.
     */
    HOT_KEY_EVENTS_PER_SECOND: int(1000, 0),
    /** Producers, each with its own connection per broker and one produce request in flight on it. */
    KAFKA_PRODUCER_CONNECTIONS: int(PRODUCER_CONNECTIONS, 1),
    /** How long one produce request waits for the broker (a paused broker's answer still counts). */
    KAFKA_REQUEST_TIMEOUT_MS: int(60_000, 1000),
    /** Partitions of a tenant topic (and of its -rejected topic); 12–24 by tenant size in production. */
    TOPIC_PARTITIONS: int(12, 1),
    /** Replicas per partition; unset: min(3, brokers in the cluster). */
    TOPIC_REPLICATION_FACTOR: z.coerce.number().int().min(1).optional(),
    /** `min.insync.replicas` of a tenant topic; unset: 2 with three replicas or more, else 1. */
    TOPIC_MIN_INSYNC_REPLICAS: z.coerce.number().int().min(1).optional(),
    TOPIC_RETENTION_MS: int(7 * 24 * 60 * 60 * 1000, 1),
    /**
     * Whether the relay creates a tenant's topics on its first write. `false` with a produce-only Kafka
     * user: an operator provisions topics (`npm run topics -- ensure <tenant>`, also done by the admin
     * API when a tenant's first config is created); a missing topic holds back only its own events.
     */
    TOPIC_AUTO_CREATE: z
      .enum(["true", "false"])
      .default("true")
      .transform((value) => value === "true"),
    SPOOL_DIR: z.string().default(".dev/spool"),
    /** Bytes the spool may hold; beyond it events are refused with a retryable 503. */
    SPOOL_MAX_BYTES: int(256 * 1024 * 1024, 1024),
    /**
     * Bytes one topic's spool may hold of SPOOL_MAX_BYTES (a tenant's events; its refusals have a topic of
     * their own): a tenant whose topic cannot be written gets retryable 503s once its share is full,
     * while the others' events are still taken.
     */
    SPOOL_TOPIC_MAX_BYTES: int(64 * 1024 * 1024, 1024),
    /**
     * Bytes the dead-letter file (SPOOL_DIR/dead-letter.ndjson: records refused even by their
     * quarantine topic) may hold. Beyond it, or beyond a tenant's share, a refusal's record is dropped
     * (counted) and an acknowledged event's waits in its spool, or its sender is refused retryably.
     */
    DEAD_LETTER_MAX_BYTES: int(64 * 1024 * 1024, 1024),
    /** Bytes one tenant's records may take of DEAD_LETTER_MAX_BYTES. */
    DEAD_LETTER_TENANT_MAX_BYTES: int(8 * 1024 * 1024, 1024),
    /**
     * API keys: comma-separated `key=tenant_id` (a tenant's secret key: writes that tenant only) or
     * `key=*` (an internal service key: writes any tenant). Stored hashed in memory.
     */
    RELAY_API_KEYS: list(""),
    MONGODB_URI: z.string().default("mongodb://127.0.0.1:27017"),
    MONGODB_DB: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,60}$/)
      .default("behavior_ingest"),
    /**
     * Connections to MongoDB per relay process. Ingestion never waits on the store (every tenant's
     * document is in memory), so the pool serves the admin API, the change feed and quality flushes.
     */
    MONGODB_POOL_SIZE: int(10, 1),
    /**
     * The longest a store call may take before the admin API answers 503 `store_unavailable` (and server
     * selection, connecting and the wait for a pooled connection are bounded by it): a slow, locked or
     * absent store costs a caller this much, never a hang.
     */
    MONGODB_DEADLINE_MS: int(800, 50),
    /** A MongoDB socket silent this long is closed, which ends an operation that outlived its deadline. */
    MONGODB_SOCKET_TIMEOUT_MS: int(10_000, 1000),
    /** Bearer token of the admin API; without one only tenant secret keys can manage (their own) configs. */
    ADMIN_TOKEN: z.string().min(16).optional(),
    /**
     * The HMAC secret shared with the edge, which signs every call between them (forwarded batches,
     * feed reads, pushes; src/core/edge-signing.ts). While rotating, `new,old`: the first signs, both
     * verify. At least 32 characters each. Without it the edge cannot forward or read the feed.
     */
    EDGE_SECRET: EdgeSecretSetting,
    /** Where config and key changes are pushed: every edge's base URL, comma-separated. */
    EDGE_PUSH_URLS: list("").pipe(z.array(z.url())),
    ...rateLimitSettings,
    /**
     * How often the tenant directory reads the store's change feed: a config or key changed through
     * another relay (a revocation too) takes effect here within about this plus one read of the tenant.
     */
    DIRECTORY_POLL_MS: int(1000, 50),
    /**
     * Until the directory's first load (the store was down when the relay started), how long an ingest
     * call may wait for one lookup of a key or tenant not yet in memory.
     */
    DIRECTORY_LOOKUP_DEADLINE_MS: int(300, 10),
    /** Live views (`…/events/live`) served at once, each a Kafka consumer of its own. */
    LIVE_STREAMS_MAX: int(8),
    /** Live views one tenant may have open at once, inside LIVE_STREAMS_MAX: one tenant cannot take them all. */
    LIVE_STREAMS_PER_TENANT: int(2, 1),
    /** Events a live view sends a second at most; the rest are counted and said (a `skipped` event). */
    LIVE_EVENTS_PER_SECOND: int(50, 1),
    /** How often the quality counts are added to the hourly aggregates in MongoDB (the quality API's data). */
    QUALITY_FLUSH_MS: int(5000),
    /**
     * The most quality cells (tenant × hour × source × scenario) one flush writes, so that a flush holds
     * the store only briefly (docs/quality.md has the figures); the rest wait in memory, merged.
     */
    QUALITY_FLUSH_MAX_CELLS: int(200, 1),
    /** Also run the auditor, which re-checks what every writer put into the tenants' topics (src/auditor/). */
    AUDITOR_ENABLED: z
      .enum(["true", "false"])
      .default("false")
      .transform((v) => v === "true"),
    /** How often the auditor looks for new tenant topics and measures its lag. */
    AUDITOR_DISCOVER_MS: int(10_000),
    /**
     * Bytes of one partition an auditor's fetch brings at most: one tenant's backlog takes this much per
     * partition of each fetch, and the other tenants' records come in the same fetch.
     */
    AUDITOR_FETCH_BYTES_PER_PARTITION: int(1024 * 1024, 1024),
    /** The topics the auditor reads, as a regular expression (default: every tenant's event topic). */
    AUDITOR_TOPICS: z
      .string()
      .optional()
      .transform((pattern, ctx) => {
        if (pattern === undefined) return undefined;
        try {
          return new RegExp(pattern);
        } catch (error) {
          // RegExp throws SyntaxError for a pattern it cannot compile: a wrong setting, reported as one.
          if (!(error instanceof SyntaxError)) throw error;
          ctx.addIssue({ code: "custom", message: `must be a regular expression: ${error.message}` });
          return z.NEVER;
        }
      }),
    /** Requests logged at info per second; failures always are, the rest are counted (src/relay/request-log.ts). */
    REQUEST_LOG_PER_SECOND: int(20),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .superRefine((s, ctx) => {
    if (s.KAFKA_SECURITY_PROTOCOL.startsWith("SASL_")) {
      for (const key of ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"] as const) {
        if (s[key] === undefined) {
          ctx.addIssue({
            code: "custom",
            path: [key],
            message: `is required with ${s.KAFKA_SECURITY_PROTOCOL}`,
          });
        }
      }
    }
    if ((s.KAFKA_TLS_CERT_FILE === undefined) !== (s.KAFKA_TLS_KEY_FILE === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["KAFKA_TLS_KEY_FILE"],
        message: "a client certificate needs its key, and the other way round",
      });
    }
    if (s.RELAY_HEADERS_TIMEOUT_MS !== undefined && s.RELAY_HEADERS_TIMEOUT_MS > s.RELAY_REQUEST_TIMEOUT_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["RELAY_HEADERS_TIMEOUT_MS"],
        message: `must be at most RELAY_REQUEST_TIMEOUT_MS (${s.RELAY_REQUEST_TIMEOUT_MS}): the headers are part of the request`,
      });
    }
  })
  .transform((s) => ({
    ...s,
    RELAY_HEADERS_TIMEOUT_MS:
      s.RELAY_HEADERS_TIMEOUT_MS ?? Math.min(DEFAULT_HEADERS_TIMEOUT_MS, s.RELAY_REQUEST_TIMEOUT_MS),
  }));
export type RelaySettings = z.infer<typeof RelaySettings>;

/** Parses the environment; a bad value stops start-up with a message naming the variable. */
export const loadSettings = (env: Record<string, string | undefined>): RelaySettings =>
  parseSettings(RelaySettings, env, "relay");

/** The tenant-topic settings of the write path and the topics command. */
export const topicSettingsOf = (s: RelaySettings): TopicSettings => ({
  partitions: s.TOPIC_PARTITIONS,
  replicationFactor: s.TOPIC_REPLICATION_FACTOR,
  minInsyncReplicas: s.TOPIC_MIN_INSYNC_REPLICAS,
  retentionMs: s.TOPIC_RETENTION_MS,
  autoCreate: s.TOPIC_AUTO_CREATE,
});

/** How the relay and the auditor reach MongoDB. */
export const storeSettingsOf = (settings: RelaySettings): StoreSettings => ({
  uri: settings.MONGODB_URI,
  database: settings.MONGODB_DB,
  poolSize: settings.MONGODB_POOL_SIZE,
  deadlineMs: settings.MONGODB_DEADLINE_MS,
  socketTimeoutMs: settings.MONGODB_SOCKET_TIMEOUT_MS,
});

/** TLS and SASL options of the Kafka clients, from the settings (certificate files are read here, once). */
export const kafkaConnection = (s: RelaySettings): Pick<ConnectionOptions, "tls" | "sasl"> => {
  const tls = s.KAFKA_SECURITY_PROTOCOL === "SSL" || s.KAFKA_SECURITY_PROTOCOL === "SASL_SSL";
  const read = (file: string | undefined) => (file === undefined ? undefined : readFileSync(file, "utf8"));
  return {
    ...(tls
      ? {
          tls: {
            ca: read(s.KAFKA_TLS_CA_FILE),
            cert: read(s.KAFKA_TLS_CERT_FILE),
            key: read(s.KAFKA_TLS_KEY_FILE),
          },
        }
      : {}),
    ...(s.KAFKA_SECURITY_PROTOCOL.startsWith("SASL_")
      ? {
          sasl: {
            mechanism: s.KAFKA_SASL_MECHANISM,
            username: s.KAFKA_SASL_USERNAME,
            password: s.KAFKA_SASL_PASSWORD,
          },
        }
      : {}),
  };
};
