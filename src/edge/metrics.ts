/**
 * The edge's counters, in Prometheus text at `/metrics`. Per isolate (Workers) or process (Deno):
 * a scraper sums what it sees; nothing here is shared across isolates. Every event the edge refuses,
 * queues or gives up on is counted by what happened to it, so nothing disappears silently.
 */
const HELP = {
  edge_events_accepted_total: "Events acknowledged (stored by the relay or queued)",
  edge_events_warned_total: "Acknowledged events that came with validation warnings",
  edge_events_refused_total: "Events refused to the client, by error code",
  edge_events_forbidden_total:
    "Events refused because the key may not write the tenant they name, by the key's own tenant " +
    "(never the tenant named: a forger's attempts are charged to its key and address)",
  edge_events_forwarded_total: "Events the relay stored (from a request or from the queue)",
  edge_events_queued_total: "Events put in the durable queue because the relay could not take them",
  edge_events_quarantined_total:
    "Refused or undeliverable events handed to the relay's quarantine, by reason",
  edge_quarantine_queued_total:
    "Refusals put in the durable queue because the relay's quarantine was unreachable",
  edge_queue_retries_total: "Queue messages retried later because the relay could not take them",
  edge_events_dead_lettered_total:
    "Events out of the queue's retry schedule, handed on to the dead-letter path",
  edge_events_lost_total: "Events neither delivered nor kept anywhere (should stay 0), by cause",
} as const;

export type EdgeCounter = keyof typeof HELP;

/** Upper bounds of the request-duration buckets, in seconds (the relay's too). */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class EdgeMetrics {
  readonly #counters = new Map<string, number>();
  /** Per label set (`route="…",method="…",status="…"`): requests per bucket, their sum and count. */
  readonly #durations = new Map<string, { buckets: number[]; sum: number; count: number }>();

  /** One answered request, by its route's pattern (bounded labels), method and status. */
  observeRequest(labels: { route: string; method: string; status: number }, seconds: number): void {
    const key = `route="${labels.route}",method="${labels.method}",status="${labels.status}"`;
    let histogram = this.#durations.get(key);
    if (histogram === undefined) {
      histogram = { buckets: DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.#durations.set(key, histogram);
    }
    DURATION_BUCKETS.forEach((bound, i) => {
      if (seconds <= bound) (histogram.buckets[i] as number)++;
    });
    histogram.sum += seconds;
    histogram.count++;
  }

  /** Adds to a counter; label values are our own codes and tenant ids, which need no escaping. */
  add(name: EdgeCounter, count = 1, labels?: Readonly<Record<string, string>>): void {
    if (count === 0) return;
    const key =
      labels === undefined
        ? name
        : `${name}{${Object.entries(labels)
            .map(([label, value]) => `${label}="${value}"`)
            .join(",")}}`;
    this.#counters.set(key, (this.#counters.get(key) ?? 0) + count);
  }

  /** A counter's total over its labels. */
  total(name: EdgeCounter): number {
    let sum = 0;
    for (const [key, value] of this.#counters) if (key === name || key.startsWith(`${name}{`)) sum += value;
    return sum;
  }

  /** Prometheus text exposition format. */
  render(): string {
    const lines: string[] = [];
    for (const [name, help] of Object.entries(HELP)) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      const own = [...this.#counters].filter(([key]) => key === name || key.startsWith(`${name}{`));
      if (own.length === 0) lines.push(`${name} 0`);
      for (const [key, value] of own) lines.push(`${key} ${value}`);
    }
    const name = "edge_request_duration_seconds";
    lines.push(
      `# HELP ${name} Time to answer a request, by route, method and status`,
      `# TYPE ${name} histogram`,
    );
    for (const [labels, histogram] of this.#durations) {
      DURATION_BUCKETS.forEach((bound, i) => {
        lines.push(`${name}_bucket{${labels},le="${bound}"} ${histogram.buckets[i]}`);
      });
      lines.push(
        `${name}_bucket{${labels},le="+Inf"} ${histogram.count}`,
        `${name}_sum{${labels}} ${histogram.sum}`,
        `${name}_count{${labels}} ${histogram.count}`,
      );
    }
    return `${lines.join("\n")}\n`;
  }
}
