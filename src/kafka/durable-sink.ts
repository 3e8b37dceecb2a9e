import type { Logger } from "pino";
import { quarantineRecord, TOPIC_PREFIX } from "../core/index.ts";
import { type DeadLetters, DeadLettersFullError, wasAcknowledged } from "./dead-letters.ts";
import { classifyKafkaError } from "./errors.ts";
import { HotKeys } from "./hot-keys.ts";
import type { KafkaWriterMetrics } from "./metrics.ts";
import {
  byTopic,
  type EventRecord,
  KafkaWriteError,
  type RecordProducer,
  type RecordSink,
  recordBytes,
  TopicsUnwrittenError,
} from "./records.ts";
import type { RecordSpool, SpoolStore } from "./spool.ts";

export interface WritePathSettings {
  /** A produce request goes when this many events of a topic wait… */
  flushAtEvents: number;
  /** …or when the oldest has waited this long. */
  lingerMs: number;
  /** At most this many events… */
  maxBatchEvents: number;
  /** …and this many bytes per produce request, safely under the broker's message.max.bytes. */
  maxBatchBytes: number;
  /** A request not acknowledged in this time is backed up to the spool so its callers can be answered. */
  ackTimeoutMs: number;
  /** Events waiting for Kafka, all topics together, beyond which new ones go to the spool. */
  bufferMaxEvents: number;
  /**
   * Events waiting for Kafka in one topic (one tenant's share of the buffer), beyond which that topic's
   * new ones go to its spool: one tenant's burst cannot fill the buffer and push the others' to disk.
   */
  bufferTopicMaxEvents: number;
  /** Events per second of one user in one topic beyond which the excess is spread (0: never). */
  hotKeyEventsPerSecond: number;
  /** Told of records the spool took instead of Kafka, by topic: the per-tenant quality figures count them. */
  onSpooled?: (topic: string, events: number) => void;
}

/**
 * Records of a direct send that Kafka refused for good and that could be kept nowhere (no room in the
 * dead-letter file, or the quarantine topic's spool is full), with why: not acknowledged, their senders
 * are refused retryably instead.
 */
type Unkept = Map<EventRecord, Error>;

/** How a direct send went: in time (some records perhaps unkept), late (still running), or failed. */
type SendOutcome = { unkept: Unkept } | "failed" | { late: Promise<void> };

interface Pending {
  records: readonly EventRecord[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Cuts records into produce requests bounded in events and bytes, in order. */
export const requestsOf = (
  records: readonly EventRecord[],
  settings: Pick<WritePathSettings, "maxBatchEvents" | "maxBatchBytes">,
): EventRecord[][] => {
  const requests: EventRecord[][] = [];
  let current: EventRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = recordBytes(record);
    if (
      current.length > 0 &&
      (current.length >= settings.maxBatchEvents || bytes + size > settings.maxBatchBytes)
    ) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(record);
    bytes += size;
  }
  if (current.length > 0) requests.push(current);
  return requests;
};

/** Everything the lanes of one sink share. */
interface Shared {
  producer: RecordProducer;
  spools: SpoolStore;
  settings: WritePathSettings;
  metrics: KafkaWriterMetrics;
  log: Logger;
  deadLetters: DeadLetters;
  /** Events in all lanes' buffers. */
  buffered: number;
  /** Lanes whose last write failed, kept as a count: health is asked per call, lanes number thousands. */
  failingLanes: number;
  /** When Kafka last acknowledged a request of any lane. */
  deliveredAt: number;
  /** When a request last failed for the cluster's sake (unreachable, late), not for its topic's or records'. */
  clusterFailedAt: number;
  /** When such a failure was last logged. */
  clusterWarnedAt: number;
  /** Writes a quarantine record through the sink (its topic has a lane of its own). */
  quarantine(records: EventRecord[]): Promise<void>;
  /** A topic's spool grew or shrank: the gauges follow. */
  spoolChanged(topic: string, bytes: number): void;
}

/**
 * The write path of one topic. Records are batched (flushAtEvents or lingerMs), one produce request in
 * flight at a time, so a topic's records — and one user's — reach Kafka in the order they were accepted.
 * While the topic's spool holds anything, new records are spooled behind it and a replay loop moves
 * the spool to Kafka oldest first, backing off while Kafka refuses; other topics are not involved.
 */
class TopicLane {
  readonly topic: string;
  #pending: Pending[] = [];
  /** Events in `#pending`, kept as a count: summing the list on every write is quadratic under load. */
  #pendingEvents = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #draining: Promise<void> | undefined;
  #spool: RecordSpool | undefined;
  #opening: Promise<RecordSpool> | undefined;
  #replaying: Promise<void> | undefined;
  /**
   * Set (synchronously) when the lane turns to its spool, cleared by the replay loop once the spool is
   * empty: while set, every write goes to the spool, behind what is there.
   */
  #spooling = false;
  /** Appends under way while spooling: the replay loop does not end before they are in the spool. */
  #appends = 0;
  /** More is buffered than the shared bound allows: the drain spools instead of sending. */
  #overflow = false;
  /** The send of a batch that was backed up to the spool when its acknowledgement was late. */
  #late: Promise<void> | undefined;
  /** Records at the head of the spool known to be in Kafka already (a late send that landed; replay progress). */
  #headDelivered = 0;
  /** Records at the head of the spool whose earlier send failed after it may have reached the broker. */
  #headAtRisk = 0;
  #failing = false;
  #closed = false;
  readonly #shared: Shared;

  constructor(topic: string, shared: Shared) {
    this.topic = topic;
    this.#shared = shared;
  }

  /** Records whether the last attempt to write this topic failed (its records wait in the spool). */
  #setFailing(failing: boolean, error?: unknown): void {
    if (failing !== this.#failing) this.#shared.failingLanes += failing ? 1 : -1;
    this.#failing = failing;
    // No answer, or a retriable one, is the cluster's trouble; a refused topic or record is the topic's.
    if (failing && !(error instanceof KafkaWriteError && error.kind !== "retriable"))
      this.#shared.clusterFailedAt = Date.now();
  }

  get spooled(): number {
    return this.#spool?.events ?? 0;
  }

  /**
   * Buffers records for a direct write, or spools them behind what the spool holds. Only the drain
   * turns a lane to its spool, after the request in flight has its outcome, so what was sent or
   * buffered first is always spooled first: the head of the spool is known, and order is kept.
   */
  async write(records: readonly EventRecord[]): Promise<void> {
    const shared = this.#shared;
    if (!this.#spooling) {
      return new Promise((resolve, reject) => {
        this.#pending.push({ records, resolve, reject });
        this.#pendingEvents += records.length;
        shared.buffered += records.length;
        if (
          this.#pendingEvents > shared.settings.bufferTopicMaxEvents ||
          shared.buffered > shared.settings.bufferMaxEvents
        )
          this.#overflow = true;
        this.#flushSoon(
          this.#overflow || this.#pendingEvents >= shared.settings.flushAtEvents
            ? 0
            : shared.settings.lingerMs,
        );
      });
    }
    this.#appends++;
    try {
      await this.#spoolAppend(records);
    } finally {
      this.#appends--;
    }
    this.replay();
  }

  /** Opens the spool a previous run left for this topic, and replays it. */
  async resume(): Promise<void> {
    await this.#spoolOf();
    this.#shared.spoolChanged(this.topic, this.#spool?.bytes ?? 0);
    this.#spooling = true;
    this.#setFailing(true);
    this.replay();
  }

  /** The topic's spool, opened once: concurrent first callers share the one opening. */
  #spoolOf(): Promise<RecordSpool> {
    this.#opening ??= this.#shared.spools.open(this.topic).then((spool) => {
      this.#spool = spool;
      return spool;
    });
    return this.#opening;
  }

  async #spoolAppend(records: readonly EventRecord[]): Promise<void> {
    const spool = await this.#spoolOf();
    await spool.append(records);
    this.#shared.metrics.spooledEvents.inc(records.length);
    this.#shared.settings.onSpooled?.(this.topic, records.length);
    this.#shared.spoolChanged(this.topic, this.#spool?.bytes ?? 0);
  }

  #flushSoon(delay: number): void {
    if (delay === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      queueMicrotask(() => void this.#drain());
    } else {
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        void this.#drain();
      }, delay);
    }
  }

  /** Sends what is buffered, request after request; waits for a drain already under way. */
  #drain(): Promise<void> {
    this.#draining ??= this.#drainLoop().finally(() => {
      this.#draining = undefined;
    });
    return this.#draining;
  }

  async #drainLoop(): Promise<void> {
    const { settings } = this.#shared;
    while (this.#pending.length > 0) {
      let batch: Pending[] = [];
      let sent: "failed" | { late: Promise<void> } | undefined;
      if (!this.#overflow) {
        batch = this.#take(settings);
        const records = batch.flatMap((p) => p.records);
        const outcome = await this.#sendInTime(records);
        this.#shared.buffered -= records.length;
        if (outcome !== "failed" && "unkept" in outcome) {
          for (const p of batch) {
            const unkept = p.records.find((r) => outcome.unkept.has(r));
            if (unkept === undefined) p.resolve();
            else p.reject(outcome.unkept.get(unkept));
          }
          continue;
        }
        sent = outcome;
      }
      // Spool this batch (late, failed, or none when the buffer overflowed) and everything behind it,
      // oldest first, then answer their callers.
      if (this.#overflow)
        this.#shared.metrics.bufferOverflowEvents.inc({ topic: this.topic }, this.#pendingEvents);
      this.#spooling = true;
      this.#overflow = false;
      const behind = this.#pending;
      this.#pending = [];
      const spooled = [...batch, ...behind];
      this.#shared.buffered -= this.#pendingEvents;
      this.#pendingEvents = 0;
      try {
        await this.#spoolAppend(spooled.flatMap((p) => p.records));
      } catch (error) {
        for (const p of spooled) p.reject(error);
        this.replay();
        return;
      }
      // The spool was empty (this lane was not spooling), so the sent batch is its head.
      const sentEvents = batch.reduce((n, p) => n + p.records.length, 0);
      if (sent === "failed") this.#headAtRisk += sentEvents;
      else if (sent !== undefined) {
        this.#late = sent.late.then(
          () => {
            this.#headDelivered += sentEvents;
          },
          () => {
            this.#headAtRisk += sentEvents;
          },
        );
      }
      for (const p of spooled) p.resolve();
      this.replay();
      return;
    }
  }

  /** The next request's worth of pending writes, in order, taken off the list with one splice. */
  #take(settings: WritePathSettings): Pending[] {
    let taken = 0;
    let events = 0;
    let bytes = 0;
    for (const next of this.#pending) {
      const size = next.records.reduce((n, r) => n + recordBytes(r), 0);
      if (
        taken > 0 &&
        (events + next.records.length > settings.maxBatchEvents || bytes + size > settings.maxBatchBytes)
      )
        break;
      taken++;
      events += next.records.length;
      bytes += size;
    }
    this.#pendingEvents -= events;
    return this.#pending.splice(0, taken);
  }

  /**
   * Sends records and waits for Kafka, but no longer than the ack timeout. A late request is not
   * abandoned: its records are backed up to the spool (so its callers can be answered) and, if it lands
   * after all, the backup is skipped instead of being sent again, so a slow broker makes no duplicates.
   */
  async #sendInTime(records: EventRecord[]): Promise<SendOutcome> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const unkept: Unkept = new Map();
    const attempt = this.#deliverAll(records, unkept);
    const deadline = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), this.#shared.settings.ackTimeoutMs);
    });
    const outcome = await Promise.race([
      attempt.then(
        () => "delivered" as const,
        (error: KafkaWriteError) => error,
      ),
      deadline,
    ]);
    clearTimeout(timer);
    if (outcome === "delivered") {
      this.#setFailing(false);
      this.#shared.deliveredAt = Date.now();
      return { unkept };
    }
    this.#noteFailure(outcome === "late" ? undefined : outcome, records.length);
    if (outcome !== "late") return "failed";
    const late = attempt.then(() => {
      // Landed, but with records kept nowhere: no delivery, so their spooled backups are sent again.
      if (unkept.size > 0) throw [...unkept.values()][0];
    });
    // Handled here too: when the backup to the spool fails, its callers are refused and nobody waits
    // for the late send, whose failure would otherwise be an unhandled rejection.
    late.catch(() => "the drain loop reads the outcome when it still matters");
    return { late };
  }

  #noteFailure(error: KafkaWriteError | undefined, events: number): void {
    const { metrics, log } = this.#shared;
    metrics.kafkaFailures.inc(events);
    if (!this.#failing) {
      const shared = this.#shared;
      const reason = error?.reason ?? "ACK_TIMEOUT";
      // The cluster's trouble turns every lane to its spool at once: one line a second says so, with the
      // count, instead of one per topic (10,000 lines when 10,000 new tenants met a busy broker).
      if (error instanceof KafkaWriteError && error.kind !== "retriable")
        log.warn(
          { topic: this.topic, reason, err: error },
          "kafka did not take the records of a topic; spooling them",
        );
      else if (Date.now() - shared.clusterWarnedAt >= 1000) {
        shared.clusterWarnedAt = Date.now();
        log.warn(
          { topic: this.topic, reason, err: error, failing_topics: shared.failingLanes + 1 },
          "kafka did not take records in time; spooling them (topics that fail within the next second are not logged one by one)",
        );
      }
    }
    this.#setFailing(true, error);
  }

  /** Sends records in requests bounded in events and bytes. */
  async #deliverAll(records: readonly EventRecord[], unkept?: Unkept): Promise<void> {
    for (const request of requestsOf(records, this.#shared.settings)) await this.#deliver(request, unkept);
  }

  /**
   * One produce request. When Kafka refuses what is in it (too large, invalid, policy), the request is
   * halved until the offending records are alone, and those are quarantined; the rest are delivered.
   * Retriable and topic-level failures are thrown. `unkept` (a direct send, not yet acknowledged)
   * collects refused records that could be kept nowhere; without it (a replay of the spool) they throw.
   */
  async #deliver(records: readonly EventRecord[], unkept?: Unkept): Promise<void> {
    const { producer, metrics } = this.#shared;
    const started = performance.now();
    try {
      await producer.send(records);
    } catch (cause) {
      const error = classifyKafkaError(cause);
      if (error.kind !== "record") throw error;
      if (records.length > 1) {
        const half = Math.ceil(records.length / 2);
        await this.#deliver(records.slice(0, half), unkept);
        await this.#deliver(records.slice(half), unkept);
      } else await this.#setAside(records[0] as EventRecord, error, unkept);
      return;
    }
    metrics.kafkaProduceSeconds.observe((performance.now() - started) / 1000);
    metrics.kafkaBatchEvents.observe(records.length);
    metrics.kafkaSuccess.inc(records.length);
  }

  /**
   * A record Kafka refuses for good: into its tenant's quarantine topic, or (a quarantine record) the
   * local dead-letter file. What can be kept nowhere is never dropped if it was acknowledged: a direct
   * send's record goes to `unkept` (its sender is refused retryably), a spooled one stays in the spool.
   */
  async #setAside(record: EventRecord, error: KafkaWriteError, unkept?: Unkept): Promise<void> {
    const { metrics, log } = this.#shared;
    metrics.kafkaRefusedRecords.inc({ reason: error.reason });
    log.error({ topic: this.topic, eventId: record.eventId, reason: error.reason }, "kafka refused a record");
    const tenant = this.topic.slice(TOPIC_PREFIX.length);
    if (this.topic.endsWith("-rejected") || !this.topic.startsWith(TOPIC_PREFIX)) {
      await this.#deadLetter(record, error.reason, unkept);
      return;
    }
    let event: unknown;
    try {
      event = JSON.parse(record.value);
    } catch (parseError) {
      if (!(parseError instanceof SyntaxError)) throw parseError;
      event = record.value;
    }
    const refusal = {
      reason: "kafka_refused" as const,
      errors: [{ path: "", message: `Kafka refused the record: ${error.reason}` }],
      event,
    };
    try {
      await this.#shared.quarantine([
        { ...quarantineRecord(tenant, refusal, Date.now()), eventId: record.eventId },
      ]);
    } catch (cause) {
      // The quarantine topic's lane could keep it nowhere (its spool full, no room for dead letters):
      // this topic's trouble, not the cluster's.
      const failure = new KafkaWriteError(
        "topic",
        "QUARANTINE_UNWRITTEN",
        "the quarantine could not keep a record",
        {
          cause,
        },
      );
      if (unkept === undefined) throw failure;
      unkept.set(record, failure);
    }
  }

  /**
   * A quarantine record its topic refuses: into the dead-letter file. Without room there, a refusal
   * (its sender was answered 4xx, never told it is kept) is dropped and counted; an acknowledged event's
   * record is not (see {@link TopicLane.#setAside}).
   */
  async #deadLetter(record: EventRecord, reason: string, unkept?: Unkept): Promise<void> {
    const { metrics, log } = this.#shared;
    try {
      await this.#shared.deadLetters.append([{ record, reason }]);
      metrics.deadLetterRecords.inc();
    } catch (error) {
      if (!(error instanceof DeadLettersFullError)) throw error;
      if (!wasAcknowledged(record)) {
        metrics.deadLetterDroppedRecords.inc({ tenant: error.tenant });
        log.warn({ topic: this.topic, reason }, "a refusal was dropped: its tenant's dead letters are full");
        return;
      }
      log.warn({ topic: this.topic, reason }, "no room for an acknowledged event's dead letter; it waits");
      if (unkept === undefined) throw error;
      unkept.set(record, error);
    }
  }

  replay(): void {
    this.#replaying ??= this.#replayLoop().finally(() => {
      this.#replaying = undefined;
    });
  }

  async #replayLoop(): Promise<void> {
    const { settings, metrics, log } = this.#shared;
    let backoffMs = 200;
    while (!this.#closed) {
      // Records buffered for a direct write are older than what was spooled after them: let them go
      // first (they may be spooled themselves). A late send decides whether its backup is delivered.
      await this.#draining;
      await this.#late;
      this.#late = undefined;
      const spool = await this.#spoolOf();
      const segment = await spool.oldest();
      if (segment === undefined) {
        if (this.#appends > 0) {
          await sleep(1);
          continue;
        }
        this.#spooling = false;
        this.#setFailing(false);
        return;
      }
      try {
        const skip = Math.min(this.#headDelivered, segment.records.length);
        for (const request of requestsOf(segment.records.slice(skip), settings)) {
          await this.#deliver(request);
          this.#headDelivered += request.length;
          const atRisk = Math.min(this.#headAtRisk, request.length);
          this.#headAtRisk -= atRisk;
          metrics.duplicateRiskEvents.inc(atRisk);
          metrics.replayedEvents.inc(request.length);
        }
        this.#shared.deliveredAt = Date.now();
        await spool.remove(segment.seq, segment.records.length);
        this.#headDelivered -= segment.records.length;
        this.#shared.spoolChanged(this.topic, this.#spool?.bytes ?? 0);
        if (this.#failing)
          log.info({ topic: this.topic }, "kafka takes the topic's records again; replaying its spool");
        this.#setFailing(false);
        backoffMs = 200;
      } catch (error) {
        this.#setFailing(true, error);
        log.debug({ err: error, topic: this.topic }, "spool replay failed; retrying");
        await sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 5000);
      }
    }
  }

  /** Sends what is buffered; waits up to `deadline` for the spool to empty; then stops replaying. */
  async close(deadline: number): Promise<void> {
    this.#flushSoon(0);
    await this.#drain();
    while (this.spooled > 0 && Date.now() < deadline) await sleep(50);
    this.#closed = true;
    // A replay request may wait for a paused broker; what it carries is in the spool either way.
    await Promise.race([this.#replaying, sleep(Math.max(0, deadline - Date.now()))]);
    await this.#spool?.close();
  }
}

/**
 * Acknowledgement means durable: `write` resolves only once Kafka acknowledged the records (acks=all),
 * or they were fsync'd to their topic's spool, or (refused by Kafka for good) to the quarantine. Each
 * topic has a lane of its own, so one tenant's trouble — a refused topic, a poison record, a backlog —
 * never holds back another's records.
 */
export class DurableSink implements RecordSink {
  readonly #lanes = new Map<string, TopicLane>();
  readonly #shared: Shared;
  readonly #hotKeys: HotKeys;

  private constructor(
    shared: Omit<
      Shared,
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
  ): Promise<DurableSink> {
    const sink = new DurableSink({ producer, spools, settings, metrics, log, deadLetters });
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

  /** False while some topic's records cannot be written (they wait in its spool). */
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
    const deadline = Date.now() + 10_000;
    await Promise.all([...this.#lanes.values()].map((lane) => lane.close(deadline)));
    this.#updateGauges();
  }
}
