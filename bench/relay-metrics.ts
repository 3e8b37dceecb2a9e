// What the tenants bench (bench/tenants.ts) reads from a relay's /metrics between its phases: the spool,
// the heap, the produce requests by kind and the topics by state, and how fast Kafka took the lanes' sends.

/** One scrape of the relay's metrics: the value of a series by its name and labels as printed. */
const relayMetrics = async (httpUrl: string) => {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  return (series: string) => {
    const at = text.indexOf(`\n${series} `);
    return at < 0 ? 0 : Number.parseFloat(text.slice(at + series.length + 2));
  };
};

/** The relay's spool: events acknowledged and not yet in Kafka. */
const spooled = async (httpUrl: string) => (await relayMetrics(httpUrl))("relay_spool_events");

/** The relay's V8 heap in use (its bound is scripts/relay.sh's RELAY_HEAP_MB). */
export const heapUsedMb = async (httpUrl: string) =>
  Math.round((await relayMetrics(httpUrl))("nodejs_heap_size_used_bytes") / 1048576);

const REQUEST_KINDS = ["combined", "new", "alone", "retry"] as const;
/** The relay's produce requests so far by kind, and its topics by state (src/kafka/combining-producer.ts). */
export const writePath = async (httpUrl: string) => {
  const value = await relayMetrics(httpUrl);
  return {
    requests: Object.fromEntries(
      REQUEST_KINDS.map((kind) => [kind, value(`relay_kafka_produce_requests_total{kind="${kind}"}`)]),
    ),
    proven_topics: value('relay_kafka_topics{state="proven"}'),
    suspect_topics: value('relay_kafka_topics{state="suspect"}'),
  };
};
/** Produce requests by kind between two readings of `writePath`, with the topics' states at the second. */
export const writePathBetween = (
  before: Awaited<ReturnType<typeof writePath>>,
  after: Awaited<ReturnType<typeof writePath>>,
) => ({
  ...after,
  requests: Object.fromEntries(
    REQUEST_KINDS.map((kind) => [kind, (after.requests[kind] ?? 0) - (before.requests[kind] ?? 0)]),
  ),
});

/** Lane sends so far that Kafka took within 250 ms, and all of them (relay_kafka_produce_seconds). */
export const sends = async (httpUrl: string) => {
  const value = await relayMetrics(httpUrl);
  return {
    fast: value('relay_kafka_produce_seconds_bucket{le="0.25"}'),
    all: value("relay_kafka_produce_seconds_count"),
    // prom-client restarts the event loop's histogram at every scrape: this is since the last one.
    loopP99Ms: Math.round(value("nodejs_eventloop_lag_p99_seconds") * 1000),
  };
};

/** Waits until the relay's spool is empty; how long that took. */
export const spoolDrained = async (httpUrl: string) => {
  const started = performance.now();
  while ((await spooled(httpUrl)) > 0) await new Promise((resolve) => setTimeout(resolve, 200));
  return Math.round(performance.now() - started);
};
