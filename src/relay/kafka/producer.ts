import type { Producer } from "@platformatic/kafka";
import type { EventRecord } from "./records.ts";
import type { TopicProvisioner } from "./topics.ts";
import type { KafkaWriterMetrics } from "./writer.ts";

interface Pending {
  records: readonly EventRecord[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface BatchSettings {
  lingerMs: number;
  flushAtEvents: number;
  maxBatchEvents: number;
  ackTimeoutMs: number;
}

/**
 * Collects records into produce requests: a batch goes when `flushAtEvents` wait or when the oldest
 * record has waited `lingerMs`, carrying up to `maxBatchEvents` (more accumulate while one is in flight). One request is in flight at a time, so batches reach Kafka in
 * the order they were accepted. When a request fails or is not acknowledged in time, it and every
 * batch queued behind it fail together, in order, so the caller can spool them without reordering.
 */
export class BatchingProducer {
  #queue: Pending[] = [];
  #queuedEvents = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sending = false;

  readonly producer: Producer<string, string, string, string>;
  readonly topics: TopicProvisioner;
  readonly settings: BatchSettings;
  readonly metrics: KafkaWriterMetrics;

  constructor(
    producer: Producer<string, string, string, string>,
    topics: TopicProvisioner,
    settings: BatchSettings,
    metrics: KafkaWriterMetrics,
  ) {
    this.producer = producer;
    this.topics = topics;
    this.settings = settings;
    this.metrics = metrics;
  }

  /** Events accepted but not yet acknowledged by Kafka. */
  get buffered(): number {
    return this.#queuedEvents;
  }

  send(records: readonly EventRecord[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ records, resolve, reject });
      this.#queuedEvents += records.length;
      if (this.#queuedEvents >= this.settings.flushAtEvents) this.#flushSoon(0);
      else this.#flushSoon(this.settings.lingerMs);
    });
  }

  /** Sends what is queued and waits until Kafka has answered for all of it (used at shutdown). */
  async flush(): Promise<void> {
    this.#flushSoon(0);
    while (this.#queue.length > 0 || this.#sending) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  #flushSoon(delay: number): void {
    if (this.#sending) return;
    if (delay === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      queueMicrotask(() => void this.#drain());
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.#drain();
      }, delay);
    }
  }

  async #drain(): Promise<void> {
    if (this.#sending) return;
    this.#sending = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#take();
        const records = batch.flatMap((p) => p.records);
        try {
          await this.produce(records);
          this.#queuedEvents -= records.length;
          for (const p of batch) p.resolve();
        } catch (error) {
          // Fail this batch and everything behind it, oldest first, so they are spooled in order.
          const failed = [...batch, ...this.#queue];
          this.#queue = [];
          this.#queuedEvents = 0;
          for (const p of failed) p.reject(error);
        }
      }
    } finally {
      this.#sending = false;
    }
  }

  #take(): Pending[] {
    const batch: Pending[] = [];
    let size = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0] as Pending;
      if (batch.length > 0 && size + next.records.length > this.settings.maxBatchEvents) break;
      batch.push(next);
      size += next.records.length;
      this.#queue.shift();
    }
    return batch;
  }

  /** One produce request with acks=all, bounded in time (also used to replay the spool). */
  async produce(records: readonly EventRecord[]): Promise<void> {
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Kafka did not acknowledge within ${this.settings.ackTimeoutMs} ms`)),
        this.settings.ackTimeoutMs,
      );
    });
    try {
      await Promise.race([
        (async () => {
          await Promise.all([...new Set(records.map((r) => r.topic))].map((t) => this.topics.ensure(t)));
          await this.producer.send({
            messages: records.map((r) => ({
              topic: r.topic,
              key: r.key,
              value: r.value,
              headers: { event_id: r.eventId },
            })),
          });
        })(),
        deadline,
      ]);
      this.metrics.kafkaProduceSeconds.observe((performance.now() - started) / 1000);
      this.metrics.kafkaBatchEvents.observe(records.length);
      this.metrics.kafkaSuccess.inc(records.length);
    } finally {
      clearTimeout(timer);
    }
  }
}
