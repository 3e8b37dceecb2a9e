import type { EventRecord, KafkaWriteError, RecordProducer } from "./records.ts";
import { type RecordSpool, SpoolBudget, type SpoolStore } from "./spool.ts";

/**
 * In-memory twins of Kafka and the spool, for unit tests of the write path's rules (flushing, spooling,
 * replay, order, isolation of bad records and topics) in milliseconds. The real ones are
 * `platformaticProducer` and `fileSpoolStore`; integration tests run those against a real broker.
 */

/** A broker in memory: `delivered` per topic in order; `behaviour` decides each request's fate. */
export class MemoryProducer implements RecordProducer {
  readonly delivered = new Map<string, EventRecord[]>();
  /** Every request, as sent, in order. */
  readonly requests: EventRecord[][] = [];
  /**
   * For each request: undefined to take it, an error to refuse it, or a promise to wait for first
   * (a paused broker) and then take it.
   */
  behaviour: (records: readonly EventRecord[]) => KafkaWriteError | Promise<void> | undefined = () =>
    undefined;

  async send(records: readonly EventRecord[]): Promise<void> {
    this.requests.push([...records]);
    const fate = this.behaviour(records);
    if (fate instanceof Error) throw fate;
    await fate;
    for (const record of records) {
      const topic = this.delivered.get(record.topic) ?? [];
      topic.push(record);
      this.delivered.set(record.topic, topic);
    }
  }

  /** Event ids delivered to a topic, in order. */
  ids(topic: string): string[] {
    return (this.delivered.get(topic) ?? []).map((r) => r.eventId);
  }

  async close(): Promise<void> {}
}

class MemorySpool implements RecordSpool {
  readonly #segments: { seq: number; records: EventRecord[]; bytes: number }[] = [];
  #seq = 0;
  #open = false;
  readonly #budget: SpoolBudget;

  constructor(budget: SpoolBudget) {
    this.#budget = budget;
  }

  get events() {
    return this.#segments.reduce((n, s) => n + s.records.length, 0);
  }

  get bytes() {
    return this.#segments.reduce((n, s) => n + s.bytes, 0);
  }

  get isEmpty() {
    return this.events === 0;
  }

  async append(records: readonly EventRecord[]): Promise<void> {
    const bytes = records.reduce((n, r) => n + r.value.length + r.key.length + r.eventId.length, 0);
    const refusal = this.#budget.refusal(this.bytes, bytes);
    if (refusal !== undefined) throw refusal;
    this.#budget.used += bytes;
    this.#budget.events += records.length;
    if (!this.#open) {
      this.#segments.push({ seq: this.#seq++, records: [], bytes: 0 });
      this.#open = true;
    }
    const segment = this.#segments.at(-1) as { records: EventRecord[]; bytes: number };
    segment.records.push(...records);
    segment.bytes += bytes;
  }

  async oldest() {
    const segment = this.#segments[0];
    if (segment === undefined) return undefined;
    if (segment === this.#segments.at(-1)) this.#open = false;
    return { seq: segment.seq, records: [...segment.records] };
  }

  async remove(seq: number): Promise<void> {
    const index = this.#segments.findIndex((s) => s.seq === seq);
    const [segment] = this.#segments.splice(index, 1);
    this.#budget.used -= segment?.bytes ?? 0;
    this.#budget.events -= segment?.records.length ?? 0;
  }

  async close(): Promise<void> {}
}

/** Spools in memory, one per topic, sharing a budget; they outlive a sink, as files outlive a process. */
export const memorySpoolStore = (
  maxBytes = 64 * 1024 * 1024,
  topicMaxBytes = maxBytes,
): SpoolStore & { spools: Map<string, RecordSpool> } => {
  const budget = new SpoolBudget(maxBytes, topicMaxBytes);
  const spools = new Map<string, RecordSpool>();
  return {
    budget,
    spools,
    leftovers: async () => [...spools].filter(([, s]) => !s.isEmpty).map(([topic]) => topic),
    open: async (topic) => {
      let spool = spools.get(topic);
      if (spool === undefined) {
        spool = new MemorySpool(budget);
        spools.set(topic, spool);
      }
      return spool;
    },
  };
};
