import { deliver, sendInTime } from "./delivery.ts";
import { blameOf } from "./failure-policy.ts";
import { type LaneContext, nextRequest, type Pending, requestsOf } from "./lane-context.ts";
import type { EventRecord, KafkaWriteError } from "./records.ts";
import type { RecordSpool } from "./spool.ts";

/**
 * The write path of one topic. Records are batched (flushAtEvents or lingerMs), one produce request in
 * flight at a time, so a topic's records — and one user's — reach Kafka in the order they were accepted.
 * While the topic's spool holds anything, new records are spooled behind it and a replay loop moves
 * the spool to Kafka oldest first, backing off while Kafka refuses; other topics are not involved.
 */
export class TopicLane {
  readonly topic: string;
  #pending: Pending[] = [];
  /** Events in `#pending`, kept as a count: summing the list on every write is quadratic under load. */
  #pendingEvents = 0;
  /** Cancels the linger timer, while one is set. */
  #cancelLinger: (() => void) | undefined;
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
  readonly #appending = new Set<Promise<void>>();
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
  readonly #shared: LaneContext;

  constructor(topic: string, shared: LaneContext) {
    this.topic = topic;
    this.#shared = shared;
  }

  /** Records whether the last attempt to write this topic failed (its records wait in the spool). */
  #setFailing(failing: boolean, error?: unknown): void {
    if (failing !== this.#failing) this.#shared.failingLanes += failing ? 1 : -1;
    this.#failing = failing;
    if (failing && blameOf(error) === "cluster") this.#shared.clusterFailedAt = this.#shared.clock.now();
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
    const appended = this.#spoolAppend(records);
    this.#appending.add(appended);
    try {
      await appended;
    } finally {
      this.#appending.delete(appended);
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
      this.#cancelLinger?.();
      this.#cancelLinger = undefined;
      queueMicrotask(() => void this.#drain());
    } else {
      this.#cancelLinger ??= this.#shared.clock.schedule(() => {
        this.#cancelLinger = undefined;
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
      let sent: { failed: KafkaWriteError } | { late: Promise<void> } | undefined;
      if (!this.#overflow) {
        const next = nextRequest(this.#pending, settings);
        this.#pendingEvents -= next.events;
        batch = this.#pending.splice(0, next.writes);
        const records = batch.flatMap((p) => p.records);
        const outcome = await sendInTime(this.#shared, this.topic, records);
        this.#shared.buffered -= records.length;
        if ("unkept" in outcome) {
          this.#setFailing(false);
          this.#shared.deliveredAt = this.#shared.clock.now();
          for (const p of batch) {
            const unkept = p.records.find((r) => outcome.unkept.has(r));
            if (unkept === undefined) p.resolve();
            else p.reject(outcome.unkept.get(unkept));
          }
          continue;
        }
        this.#noteFailure("failed" in outcome ? outcome.failed : undefined, records.length);
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
      if (sent !== undefined && "failed" in sent) this.#headAtRisk += sentEvents;
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

  #noteFailure(error: KafkaWriteError | undefined, events: number): void {
    const { metrics, log } = this.#shared;
    metrics.kafkaFailures.inc(events);
    if (!this.#failing) {
      const shared = this.#shared;
      const reason = error?.reason ?? "ACK_TIMEOUT";
      // The cluster's trouble turns every lane to its spool at once: one line a second says so, with the
      // count, instead of one per topic (10,000 lines when 10,000 new tenants met a busy broker).
      if (blameOf(error) !== "cluster")
        log.warn(
          { topic: this.topic, reason, err: error },
          "kafka did not take the records of a topic; spooling them",
        );
      else if (shared.clock.now() - shared.clusterWarnedAt >= 1000) {
        shared.clusterWarnedAt = shared.clock.now();
        log.warn(
          { topic: this.topic, reason, err: error, failing_topics: shared.failingLanes + 1 },
          "kafka did not take records in time; spooling them (topics that fail within the next second are not logged one by one)",
        );
      }
    }
    this.#setFailing(true, error);
  }

  replay(): void {
    this.#replaying ??= this.#replayLoop().finally(() => {
      this.#replaying = undefined;
    });
  }

  async #replayLoop(): Promise<void> {
    const { settings, metrics, log, clock } = this.#shared;
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
        if (this.#appending.size > 0) {
          await Promise.allSettled(this.#appending);
          continue;
        }
        this.#spooling = false;
        this.#setFailing(false);
        return;
      }
      try {
        const skip = Math.min(this.#headDelivered, segment.records.length);
        for (const request of requestsOf(segment.records.slice(skip), settings)) {
          await deliver(this.#shared, this.topic, request);
          this.#headDelivered += request.length;
          const atRisk = Math.min(this.#headAtRisk, request.length);
          this.#headAtRisk -= atRisk;
          metrics.duplicateRiskEvents.inc(atRisk);
          metrics.replayedEvents.inc(request.length);
        }
        this.#shared.deliveredAt = clock.now();
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
        await clock.sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 5000);
      }
    }
  }

  /** Sends what is buffered; waits up to `deadline` for the spool to empty; then stops replaying. */
  async close(deadline: number): Promise<void> {
    this.#flushSoon(0);
    await this.#drain();
    const { clock } = this.#shared;
    while (this.spooled > 0 && clock.now() < deadline) await clock.sleep(50);
    this.#closed = true;
    // A replay request may wait for a paused broker; what it carries is in the spool either way.
    await Promise.race([this.#replaying, clock.sleep(Math.max(0, deadline - clock.now()))]);
    await this.#spool?.close();
  }
}
