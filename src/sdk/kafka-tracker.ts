import { type Logger, pino } from "pino";
import { Counter, Registry } from "prom-client";
import * as z from "zod";
import {
  type BehaviorEventInput,
  checkEvents,
  defaultEnvironment,
  type Environment,
  ERRORS,
  type ErrorCode,
  type EventOutcome,
  type Issue,
  isPlainObject,
  quarantineRecord,
  quarantineTenantOf,
  refuseUnwritten,
  settle,
  TrackingConfig,
} from "../core/index.ts";
import { kafkaWriterMetrics } from "../kafka/metrics.ts";
import { TopicsUnwrittenError } from "../kafka/records.ts";
import { type KafkaWriter, type KafkaWriterSettings, openKafkaWriter } from "../kafka/writer.ts";

export interface KafkaTrackerOptions {
  brokers: string[];
  /** TLS and SASL for a secured cluster, as the Kafka client takes them (docs/security.md). */
  connection?: KafkaWriterSettings["connection"];
  /** Filled into events that have no `tenant_id`. */
  tenantId: string;
  /** Where events wait while Kafka is unreachable; it survives restarts (one directory per process). */
  spoolDir: string;
  /** Tracking configs to validate against, as the relay would; without one only the envelope is checked. */
  configs?: readonly TrackingConfig[];
  /**
   * Where the tracker reads its tenant's configs itself: the relay's admin API, with the tenant's
   * secret key. Read at open and every `refreshMs` (default 30 s); when a read fails the configs read
   * last (or `configs`) stay in use.
   */
  configsFrom?: { relayUrl: string; secretKey: string; refreshMs?: number };
  clientId?: string;
  compression?: "none" | "gzip" | "snappy" | "lz4" | "zstd";
  /** A produce request goes when this many events wait (default 100)… */
  flushAtEvents?: number;
  /** …or when the oldest has waited this long (default 1000 ms). */
  lingerMs?: number;
  /**
   * A produce request Kafka has not acknowledged after this long is backed up to the spool, so `track`
   * resolves (default 5000 ms); it still lands if Kafka answers later. Raise it for a slow cluster.
   */
  ackTimeoutMs?: number;
  /** Spool limit; beyond it `track` rejects instead of accepting what it cannot keep (default 256 MiB). */
  spoolMaxBytes?: number;
  /** The share of the spool one topic (one tenant's events) may take (default a quarter of `spoolMaxBytes`). */
  spoolTopicMaxBytes?: number;
  /** Bytes of the dead-letter file beside the spool (records refused even by their quarantine topic; default 64 MiB). */
  deadLetterMaxBytes?: number;
  /** The share of the dead-letter file one tenant may take (default a quarter of `deadLetterMaxBytes`). */
  deadLetterTenantMaxBytes?: number;
  /** Partitions of a tenant topic this tracker creates (default 12). */
  partitions?: number;
  /** Replicas (default min(3, brokers)) and min.insync.replicas (default 2 with three replicas, else 1). */
  replicationFactor?: number;
  minInsyncReplicas?: number;
  /** A user's events per second beyond which the excess is spread over partitions (default 1000; 0: off). */
  hotKeyEventsPerSecond?: number;
  /** Create a tenant's topic on its first event (default true); false for a produce-only Kafka user. */
  autoCreateTopics?: boolean;
  log?: Logger;
  env?: Environment;
}

const ConfigList = z.object({ configs: z.array(TrackingConfig) });

/**
 * What became of one tracked event: the relay's outcome, named as this client has always named it. A
 * refusal carries the same error code, message, field errors and `retryable` as the relay's answer for
 * that event (`invalid_event`, `payload_too_large`…); `sink_unavailable` (retryable) means the event was
 * valid but its tenant's topic could not store it now: the same event may be tracked again.
 */
export type TrackOutcome =
  | { ok: true; event_id: string; warnings: Issue[] }
  | { ok: false; code: ErrorCode; message: string; errors: Issue[]; warnings: Issue[]; retryable: boolean };

const trackOutcomeOf = (outcome: EventOutcome): TrackOutcome =>
  outcome.ok
    ? { ok: true, event_id: outcome.eventId, warnings: outcome.warnings }
    : {
        ok: false,
        code: outcome.code,
        message: outcome.message,
        errors: outcome.errors,
        warnings: outcome.warnings,
        retryable: ERRORS[outcome.code].retryable,
      };

/** An event as a service tracks it: `event_id`, `timestamp` and `tenant_id` may be left to the tracker. */
export type TrackedEvent = Omit<BehaviorEventInput, "tenant_id"> & { tenant_id?: string };

/**
 * Kafka-direct tracker for high-volume internal services: the relay's checks and its
 * write path without the network hop. Events are validated by `src/core` exactly as the relay does,
 * buffered (100 events or 1 s), written with acks=all to `user-behaviors-{tenant}` keyed by user,
 * retried with backoff, and spooled to disk while Kafka is unreachable. `track` resolves once the
 * event is durable (in Kafka or fsync'd in the spool), and rejects only when neither can take it.
 */
export class KafkaTracker {
  /** Prometheus metrics: tracked, refused, Kafka writes, spool depth. */
  readonly registry: Registry;
  readonly #received: Counter;
  readonly #rejected: Counter;
  readonly #quarantineFailures: Counter;
  readonly #configs: Map<string, TrackingConfig>;
  readonly #configsFrom: KafkaTrackerOptions["configsFrom"];
  readonly #configFor = (tenantId: string, scenarioId: string) =>
    this.#configs.get(`${tenantId}/${scenarioId}`);
  readonly #log: Logger;
  #refresh: NodeJS.Timeout | undefined;
  /** trackMany calls still being checked, not yet handed to the write path; close() waits for them. */
  readonly #handing = new Set<Promise<unknown>>();

  private readonly writer: KafkaWriter;
  private readonly tenantId: string;
  private readonly env: Environment;

  private constructor(writer: KafkaWriter, registry: Registry, options: KafkaTrackerOptions, log: Logger) {
    this.writer = writer;
    this.registry = registry;
    const metric = { registers: [registry] };
    this.#received = new Counter({
      name: "kafka_tracker_events_received_total",
      help: "Events tracked",
      ...metric,
    });
    this.#rejected = new Counter({
      name: "kafka_tracker_events_rejected_total",
      help: "Events refused, by reason: invalid, or sink_unavailable when their tenant's topic could not store them",
      labelNames: ["reason"],
      ...metric,
    });
    this.#quarantineFailures = new Counter({
      name: "kafka_tracker_quarantine_failures_total",
      help: "Refused events that could not be written to the -rejected topic (its share of the spool was full)",
      ...metric,
    });
    this.tenantId = options.tenantId;
    this.env = options.env ?? defaultEnvironment;
    this.#configs = new Map((options.configs ?? []).map((c) => [`${c.tenant_id}/${c.scenario_id}`, c]));
    this.#configsFrom = options.configsFrom;
    this.#log = log;
  }

  /** Connects lazily; events spooled by an earlier run are delivered first. */
  static async open(options: KafkaTrackerOptions): Promise<KafkaTracker> {
    const log = options.log ?? pino({ level: "warn", base: { service: "kafka-tracker" } });
    const registry = new Registry();
    const writer = await openKafkaWriter(
      {
        clientId: options.clientId ?? "behavior-kafka-tracker",
        brokers: options.brokers,
        connection: options.connection,
        compression: options.compression ?? "gzip",
        flushAtEvents: options.flushAtEvents ?? 100,
        lingerMs: options.lingerMs ?? 1000,
        // More accumulate while a request is in flight; they go together in the next one.
        maxBatchEvents: 5000,
        maxBatchBytes: 900_000,
        hotKeyEventsPerSecond: options.hotKeyEventsPerSecond ?? 1000,
        ackTimeoutMs: options.ackTimeoutMs ?? 5000,
        requestTimeoutMs: 60_000,
        bufferMaxEvents: 50_000,
        // A tracker mostly writes one tenant; the share only matters to one writing many.
        bufferTopicMaxEvents: 50_000,
        spoolDir: options.spoolDir,
        spoolMaxBytes: options.spoolMaxBytes ?? 256 * 1024 * 1024,
        spoolTopicMaxBytes: options.spoolTopicMaxBytes ?? (options.spoolMaxBytes ?? 256 * 1024 * 1024) / 4,
        deadLetters: {
          maxBytes: options.deadLetterMaxBytes ?? 64 * 1024 * 1024,
          tenantMaxBytes:
            options.deadLetterTenantMaxBytes ?? (options.deadLetterMaxBytes ?? 64 * 1024 * 1024) / 4,
        },
        topics: {
          partitions: options.partitions ?? 12,
          replicationFactor: options.replicationFactor,
          minInsyncReplicas: options.minInsyncReplicas,
          retentionMs: 7 * 24 * 3600 * 1000,
          autoCreate: options.autoCreateTopics ?? true,
        },
      },
      kafkaWriterMetrics(registry, "kafka_tracker"),
      log,
    );
    const tracker = new KafkaTracker(writer, registry, options, log);
    if (options.configsFrom !== undefined) {
      await tracker.refreshConfigs();
      tracker.#refresh = setInterval(
        () => void tracker.refreshConfigs(),
        options.configsFrom.refreshMs ?? 30_000,
      );
      tracker.#refresh.unref();
    }
    return tracker;
  }

  /**
   * Reads the tenant's active configs from the relay (`configsFrom`) and validates against them from
   * now on; false, keeping the configs in use, when the relay does not answer with them.
   */
  async refreshConfigs(): Promise<boolean> {
    const from = this.#configsFrom;
    if (from === undefined) return false;
    const url = `${from.relayUrl}/api/v1/tracking-configs?tenant_id=${encodeURIComponent(this.tenantId)}`;
    try {
      const response = await fetch(url, {
        headers: { authorization: `Bearer ${from.secretKey}` },
        signal: AbortSignal.timeout(5000),
      });
      if (!response.ok) throw new Error(`${url} answered ${response.status}`);
      const { configs } = ConfigList.parse(await response.json());
      for (const key of [...this.#configs.keys()]) {
        if (key.startsWith(`${this.tenantId}/`)) this.#configs.delete(key);
      }
      for (const config of configs) this.#configs.set(`${config.tenant_id}/${config.scenario_id}`, config);
      return true;
    } catch (error) {
      this.#log.warn(
        { err: error },
        "could not read the tracking configs; validating against those read last",
      );
      return false;
    }
  }

  /** Whether the last write reached Kafka (false while events go to the spool). */
  get kafkaAvailable(): boolean {
    return this.writer.sink.kafkaAvailable;
  }

  track(event: TrackedEvent): Promise<TrackOutcome> {
    return this.trackMany([event]).then(([outcome]) => outcome as TrackOutcome);
  }

  /** Tracks several events with one write; outcomes in input order. */
  async trackMany(events: readonly TrackedEvent[]): Promise<TrackOutcome[]> {
    const handing = this.#handOver(events);
    this.#handing.add(handing);
    const done = () => this.#handing.delete(handing);
    handing.then(done, done);
    const { settlement, refusedKept, written } = await handing;
    try {
      await written;
      return this.#counted(settlement.outcomes);
    } catch (error) {
      if (!(error instanceof TopicsUnwrittenError)) throw error;
      // Refused events whose copy for the -rejected topic could be kept nowhere: counted, as the relay does.
      const unkept = refusedKept.filter((topic) => error.topics.has(topic)).length;
      if (unkept > 0) {
        this.#quarantineFailures.inc(unkept);
        this.#log.warn({ err: error, events: unkept }, "refused events could not be quarantined");
      }
      return this.#counted(
        refuseUnwritten(settlement, error.topics, "Kafka cannot store this tenant's events now"),
      );
    }
  }

  /** Counts the refusals among the final outcomes by reason, as the relay does, and answers them. */
  #counted(outcomes: readonly EventOutcome[]): TrackOutcome[] {
    for (const outcome of outcomes) if (!outcome.ok) this.#rejected.inc({ reason: outcome.code });
    return outcomes.map(trackOutcomeOf);
  }

  /** Checks the events and hands the accepted ones (and the kept refusals) to the write path. */
  async #handOver(events: readonly TrackedEvent[]) {
    this.#received.inc(events.length);
    // Anything a JavaScript caller hands in is checked, not trusted to be an object: refused, never thrown.
    const filled = events.map((input) =>
      isPlainObject(input) && input.tenant_id === undefined ? { ...input, tenant_id: this.tenantId } : input,
    );
    // A service key: any tenant may be written (null), checked as the relay checks its events.
    const settlement = settle(filled, await checkEvents(filled, null, this.#configFor, this.env));
    // Refused events are kept in their tenant's -rejected topic with the reason, as the relay keeps them.
    const now = this.env.now();
    const kept = settlement.refusals.flatMap((refusal) => {
      const tenant = quarantineTenantOf(refusal.event);
      return tenant === undefined ? [] : [{ ...quarantineRecord(tenant, refusal, now), eventId: "" }];
    });
    const records = [...settlement.records, ...kept];
    // Durable once `written` resolves; close() waits only for the hand-over, then flushes.
    const written = records.length > 0 ? this.writer.sink.write(records) : Promise.resolve();
    return { settlement, refusedKept: kept.map((record) => record.topic), written };
  }

  /** Delivers what is buffered; what Kafka does not take within 10 s stays spooled for the next open. */
  async close(): Promise<void> {
    clearInterval(this.#refresh);
    // Events tracked before close() are delivered too, even those still being checked.
    await Promise.allSettled(this.#handing);
    return this.writer.close();
  }
}
