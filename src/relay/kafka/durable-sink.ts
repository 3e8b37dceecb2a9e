import type { Logger } from "pino";
import type { BatchingProducer } from "./producer.ts";
import type { EventRecord, RecordSink } from "./records.ts";
import type { Spool } from "./spool.ts";
import type { KafkaWriterMetrics } from "./writer.ts";

/**
 * Acknowledgement means durable: `write` resolves only once Kafka acknowledged the records (acks=all)
 * or they were fsync'd to the spool. While the spool holds anything, new records are spooled behind
 * it, so one user's events reach Kafka in the order they were accepted; a replay loop moves the
 * spool to Kafka oldest first and switches back to direct writes when it is empty.
 */
export class DurableSink implements RecordSink {
  #kafkaAvailable = true;
  #replaying: Promise<void> | undefined;
  #closed = false;

  private readonly producer: BatchingProducer;
  private readonly spool: Spool;
  private readonly maxBufferedEvents: number;
  private readonly metrics: KafkaWriterMetrics;
  private readonly log: Logger;

  constructor(
    producer: BatchingProducer,
    spool: Spool,
    maxBufferedEvents: number,
    metrics: KafkaWriterMetrics,
    log: Logger,
  ) {
    this.producer = producer;
    this.spool = spool;
    this.maxBufferedEvents = maxBufferedEvents;
    this.metrics = metrics;
    this.log = log;
    if (!spool.isEmpty) {
      this.#kafkaAvailable = false;
      this.#replay();
    }
    this.#updateGauges();
  }

  get kafkaAvailable(): boolean {
    return this.#kafkaAvailable;
  }

  get accepting(): boolean {
    return (this.#kafkaAvailable && this.spool.isEmpty) || this.spool.hasRoom;
  }

  async write(records: readonly EventRecord[]): Promise<void> {
    if (this.spool.isEmpty && this.producer.buffered + records.length <= this.maxBufferedEvents) {
      try {
        await this.producer.send(records);
        this.#kafkaAvailable = true;
        return;
      } catch (error) {
        if (this.#kafkaAvailable) this.log.warn({ err: error }, "kafka write failed; spooling");
        this.#kafkaAvailable = false;
        this.metrics.kafkaFailures.inc(records.length);
      }
    }
    await this.spool.append(records);
    this.metrics.spooledEvents.inc(records.length);
    this.#updateGauges();
    this.#replay();
  }

  #replay(): void {
    this.#replaying ??= this.#replayLoop().finally(() => {
      this.#replaying = undefined;
    });
  }

  async #replayLoop(): Promise<void> {
    let backoffMs = 200;
    while (!this.#closed) {
      // Events still queued for a direct write are older than anything spooled after them: let them
      // land first, so a user's events keep their order when the buffer overflowed into the spool.
      await this.producer.flush();
      const segment = await this.spool.oldest();
      if (segment === undefined) return;
      try {
        for (let i = 0; i < segment.records.length; i += 1000) {
          await this.producer.produce(segment.records.slice(i, i + 1000));
        }
        await this.spool.remove(segment.seq, segment.records.length);
        this.metrics.replayedEvents.inc(segment.records.length);
        this.#updateGauges();
        if (!this.#kafkaAvailable) this.log.info("kafka is back; replaying the spool");
        this.#kafkaAvailable = true;
        backoffMs = 200;
      } catch (error) {
        this.#kafkaAvailable = false;
        this.log.debug({ err: error }, "spool replay failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 5000);
      }
    }
  }

  #updateGauges(): void {
    this.metrics.spoolEvents.set(this.spool.events);
    this.metrics.spoolBytes.set(this.spool.bytes);
  }

  /** Flushes the buffer; what Kafka does not take in time stays in the spool for the next start. */
  async close(): Promise<void> {
    await this.producer.flush();
    const deadline = Date.now() + 10_000;
    while (!this.spool.isEmpty && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    this.#closed = true;
    await this.#replaying;
    await this.spool.close();
  }
}
