import type { ConnectionOptions } from "@platformatic/kafka";
import { Counter, Gauge, type Registry } from "prom-client";
import { quarantineTopicFor, topicFor } from "../core/index.ts";
import { type TailRecord, tailTopics } from "../kafka/tail.ts";

/** Why a live view was not opened: the relay serves as many as it allows, or the tenant has its share. */
export type LiveRefusal = "relay_full" | "tenant_full";

/** Records a live view left out (beyond its events per second) before the next one it shows. */
export interface SkippedRecords {
  skipped: number;
}

/** Live views of tenants' topics, at most `max` at once per relay and `perTenant` per tenant. */
export interface LiveStreams {
  /**
   * The tenant's last `last` records, then each that lands from `since` on, until `signal` aborts; with
   * `rejected`, its quarantine topic's too; at most `eventsPerSecond` a second, the rest counted. A
   * refusal when the relay, or the tenant, already has as many live views open as it may.
   */
  open(
    tenantId: string,
    options: { rejected: boolean; last: number; since: number },
    signal: AbortSignal,
  ): AsyncIterable<TailRecord | SkippedRecords> | LiveRefusal;
}

/**
 * At most `perSecond` of `records` each second; those beyond are counted, and the count comes before
 * the next record shown. Each record shown is checked again and sent by the relay's one event loop:
 * two views of a tenant writing 1,000 events a second took a neighbour's p99 from 23 to 99 ms
 * (`npm run bench:isolation`), and nobody reads a thousand events a second.
 */
export async function* paced(
  records: AsyncIterable<TailRecord>,
  perSecond: number,
  now: () => number = Date.now,
  counted: (skipped: number) => void = () => undefined,
): AsyncGenerator<TailRecord | SkippedRecords> {
  let second = -1;
  let shown = 0;
  let skipped = 0;
  for await (const record of records) {
    const current = Math.floor(now() / 1000);
    if (current !== second) {
      second = current;
      shown = 0;
    }
    if (shown >= perSecond) {
      skipped++;
      continue;
    }
    if (skipped > 0) {
      counted(skipped);
      yield { skipped };
      skipped = 0;
    }
    shown++;
    yield record;
  }
}

/**
 * The live views open, per tenant inside the relay's total: one tenant opening views until the total
 * is reached would lock every other tenant out. Counted in `relay_live_streams_open{tenant}`, whose
 * labels are only the tenants with a view open (so at most `max` of them).
 */
export class LiveSlots {
  readonly #open = new Map<string, number>();
  #total = 0;
  readonly #max: number;
  readonly #perTenant: number;
  readonly #gauge: Gauge<"tenant"> | undefined;
  readonly skipped: Counter<"tenant"> | undefined;

  constructor(limits: { max: number; perTenant: number }, registry?: Registry) {
    this.#max = limits.max;
    this.#perTenant = limits.perTenant;
    this.#gauge =
      registry &&
      new Gauge({
        name: "relay_live_streams_open",
        help: "Live views (…/events/live) open on this relay, by tenant",
        labelNames: ["tenant"] as const,
        registers: [registry],
      });
    this.skipped =
      registry &&
      new Counter({
        name: "relay_live_events_skipped_total",
        help: "Events live views left out, beyond LIVE_EVENTS_PER_SECOND a view, by tenant",
        labelNames: ["tenant"] as const,
        registers: [registry],
      });
  }

  /** Takes a slot for the tenant, or says why none is free. */
  take(tenantId: string): LiveRefusal | undefined {
    const open = this.#open.get(tenantId) ?? 0;
    if (open >= this.#perTenant) return "tenant_full";
    if (this.#total >= this.#max) return "relay_full";
    this.#total++;
    this.#open.set(tenantId, open + 1);
    this.#gauge?.set({ tenant: tenantId }, open + 1);
    return undefined;
  }

  /** Gives back a slot the tenant took. */
  give(tenantId: string): void {
    const open = (this.#open.get(tenantId) ?? 0) - 1;
    this.#total--;
    if (open > 0) {
      this.#open.set(tenantId, open);
      this.#gauge?.set({ tenant: tenantId }, open);
    } else {
      this.#open.delete(tenantId);
      this.#gauge?.remove({ tenant: tenantId });
    }
  }
}

/**
 * Each live view is a Kafka consumer of its own that commits nothing: it reads on its own connections,
 * so a watcher can slow only itself, never the writes; the slots keep watchers from adding up.
 */
export const kafkaLiveStreams = (
  brokers: string[],
  connection: Pick<ConnectionOptions, "sasl" | "tls">,
  slots: LiveSlots,
  eventsPerSecond: number,
): LiveStreams => ({
  open(tenantId, options, signal) {
    const refused = slots.take(tenantId);
    if (refused !== undefined) return refused;
    const topics = options.rejected
      ? [topicFor(tenantId), quarantineTopicFor(tenantId)]
      : [topicFor(tenantId)];
    const records = paced(
      tailTopics({ brokers, topics, ...options, follow: true, signal, connection }),
      eventsPerSecond,
      Date.now,
      (skipped) => slots.skipped?.inc({ tenant: tenantId }, skipped),
    );
    return (async function* () {
      try {
        yield* records;
      } finally {
        slots.give(tenantId);
      }
    })();
  },
});
