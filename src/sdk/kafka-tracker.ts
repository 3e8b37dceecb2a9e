import { type Logger, pino } from "pino";
import { Counter, Registry } from "prom-client";
import * as z from "zod";
import {
  checkEvents,
  defaultEnvironment,
  type Environment,
  type EventOutcome,
  isPlainObject,
  quarantineRecord,
  quarantineTenantOf,
  refuseUnwritten,
  settle,
  TrackingConfig,
} from "../core/index.ts";
import { kafkaWriterMetrics } from "../kafka/metrics.ts";
import { TopicsUnwrittenError } from "../kafka/records.ts";
import { type KafkaWriter, openKafkaWriter, WRITE_PATH_DEFAULTS } from "../kafka/writer.ts";
import {
  type KafkaTrackerOptions,
  type TrackedEvent,
  type TrackOutcome,
  trackOutcomeOf,
} from "./kafka-tracker-types.ts";

export type { KafkaTrackerOptions, TrackedEvent, TrackOutcome };

const ConfigList = z.object({ configs: z.array(TrackingConfig) });

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
    const spoolMaxBytes = options.spoolMaxBytes ?? WRITE_PATH_DEFAULTS.spoolMaxBytes;
    const deadLetterMaxBytes = options.deadLetterMaxBytes ?? WRITE_PATH_DEFAULTS.deadLetterMaxBytes;
    const writer = await openKafkaWriter(
      {
        clientId: options.clientId ?? "behavior-kafka-tracker",
        brokers: options.brokers,
        connection: options.connection,
        compression: options.compression ?? WRITE_PATH_DEFAULTS.compression,
        compressionSmall: options.compressionSmall ?? WRITE_PATH_DEFAULTS.compressionSmall,
        flushAtEvents: options.flushAtEvents ?? 100,
        lingerMs: options.lingerMs ?? 1000,
        // More accumulate while a request is in flight; they go together in the next one.
        maxBatchEvents: 5000,
        maxBatchBytes: WRITE_PATH_DEFAULTS.maxBatchBytes,
        hotKeyEventsPerSecond: options.hotKeyEventsPerSecond ?? WRITE_PATH_DEFAULTS.hotKeyEventsPerSecond,
        ackTimeoutMs: options.ackTimeoutMs ?? WRITE_PATH_DEFAULTS.ackTimeoutMs,
        requestTimeoutMs: WRITE_PATH_DEFAULTS.requestTimeoutMs,
        bufferMaxEvents: 50_000,
        // A tracker mostly writes one tenant; the share only matters to one writing many.
        bufferTopicMaxEvents: 50_000,
        spoolDir: options.spoolDir,
        spoolMaxBytes,
        spoolTopicMaxBytes: options.spoolTopicMaxBytes ?? spoolMaxBytes / 4,
        deadLetters: {
          maxBytes: deadLetterMaxBytes,
          tenantMaxBytes: options.deadLetterTenantMaxBytes ?? deadLetterMaxBytes / 4,
        },
        topics: {
          partitions: options.partitions ?? WRITE_PATH_DEFAULTS.partitions,
          replicationFactor: options.replicationFactor,
          minInsyncReplicas: options.minInsyncReplicas,
          retentionMs: WRITE_PATH_DEFAULTS.retentionMs,
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
