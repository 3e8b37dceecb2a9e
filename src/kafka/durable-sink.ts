import type { Logger } from "pino";
import { type Clock, systemClock } from "./clock.ts";
import type { DeadLetters } from "./dead-letters.ts";
import { HotKeys } from "./hot-keys.ts";
import type { LaneContext, WritePathSettings } from "./lane-context.ts";
import type { KafkaWriterMetrics } from "./metrics.ts";
import {
  byTopic,
  type EventRecord,
  type RecordProducer,
  type RecordSink,
  TopicsUnwrittenError,
} from "./records.ts";
import type { SpoolStore } from "./spool.ts";
import { TopicLane } from "./topic-lane.ts";

/**
 * Acknowledgement means durable: `write` resolves only once Kafka acknowledged the records (acks=all),
 * or they were fsync'd to their topic's spool, or (refused by Kafka for good) to the quarantine. Each
 * topic has a lane of its own, so one tenant's trouble — a refused topic, a poison record, a backlog —
 * never holds back another's records.
 */
export class DurableSink implements RecordSink {
  readonly #lanes = new Map<string, TopicLane>();
  readonly #shared: LaneContext;
  readonly #hotKeys: HotKeys;

  private constructor(
    shared: Omit<
      LaneContext,
      | "buffered"
      | "failingLanes"
      | "deliveredAt"
      | "clusterFailedAt"
      | "clusterWarnedAt"
      | "quarantine"
      | "spoolChanged"
    >,
  ) {
    this.#shared = {
      ...shared,
      buffered: 0,
      failingLanes: 0,
      deliveredAt: 0,
      clusterFailedAt: 0,
      clusterWarnedAt: 0,
      quarantine: (records) => this.write(records),
      spoolChanged: (topic, bytes) => {
        // Only topics holding something are listed: thousands of tenants, few of them spooling.
        if (bytes > 0) shared.metrics.spoolTopicBytes.set({ topic }, bytes);
        else shared.metrics.spoolTopicBytes.remove({ topic });
        this.#updateGauges();
      },
    };
    this.#hotKeys = new HotKeys(shared.settings.hotKeyEventsPerSecond);
  }

  /** A sink whose spools are replayed first where a previous run left records in them. */
  static async open(
    producer: RecordProducer,
    spools: SpoolStore,
    settings: WritePathSettings,
    metrics: KafkaWriterMetrics,
    log: Logger,
    deadLetters: DeadLetters,
    clock: Clock = systemClock,
  ): Promise<DurableSink> {
    const sink = new DurableSink({ producer, spools, settings, metrics, log, deadLetters, clock });
    for (const topic of await spools.leftovers()) await sink.#lane(topic).resume();
    sink.#updateGauges();
    return sink;
  }

  #lane(topic: string): TopicLane {
    let lane = this.#lanes.get(topic);
    if (lane === undefined) {
      lane = new TopicLane(topic, this.#shared);
      this.#lanes.set(topic, lane);
    }
    return lane;
  }

  /**
   * Whether the cluster takes records: no topic is failing, or Kafka acknowledged a request since the
   * last failure that was the cluster's (then only some topics are in trouble: see `failingTopics`).
   */
  get kafkaAvailable(): boolean {
    const { failingLanes, deliveredAt, clusterFailedAt } = this.#shared;
    return failingLanes === 0 || deliveredAt > clusterFailedAt;
  }

  /** Topics whose last write failed (their records wait in their spools). */
  get failingTopics(): number {
    return this.#shared.failingLanes;
  }

  get accepting(): boolean {
    return this.kafkaAvailable || this.#shared.spools.budget.hasRoom;
  }

  /** Events waiting in the spools. */
  get spooled(): number {
    return this.#shared.spools.budget.events;
  }

  /** Events accepted but not yet acknowledged by Kafka nor spooled. */
  get buffered(): number {
    return this.#shared.buffered;
  }

  async write(records: readonly EventRecord[]): Promise<void> {
    let hot = 0;
    const marked = records.map((r) => {
      if (r.overflow || !this.#hotKeys.over(r.topic, r.key)) return r;
      hot++;
      return { ...r, overflow: true };
    });
    if (hot > 0) this.#shared.metrics.hotKeyEvents.inc(hot);
    const topics = [...byTopic(marked)];
    const settled = await Promise.allSettled(topics.map(([topic, group]) => this.#lane(topic).write(group)));
    const unwritten = new Set<string>();
    let cause: unknown;
    for (const [i, outcome] of settled.entries()) {
      if (outcome.status === "fulfilled") continue;
      unwritten.add(topics[i]?.[0] as string);
      cause ??= outcome.reason;
    }
    if (unwritten.size > 0) throw new TopicsUnwrittenError(unwritten, { cause });
  }

  #updateGauges(): void {
    this.#shared.metrics.spoolEvents.set(this.spooled);
    this.#shared.metrics.spoolBytes.set(this.#shared.spools.budget.used);
  }

  /** Delivers what is buffered; what Kafka does not take within 10 s stays spooled for the next start. */
  async close(): Promise<void> {
    const deadline = this.#shared.clock.now() + 10_000;
    await Promise.all([...this.#lanes.values()].map((lane) => lane.close(deadline)));
    this.#updateGauges();
  }
}
