// One tenant doing its worst beside another: the victim's acceptance and p99 alone and then beside the
// neighbour, per shared resource, with the relay in its own process. A test's relay shares the test's
// event loop and two cores with other test files, so this is measured here, not asserted in test/.
// Each scenario starts a relay of its own with the settings it names.
//   npm run bench:isolation   (SECONDS=30: 600 calls of the victim, of which the p99 is the sixth slowest)
// Writes bench/results/<date>-isolation.json.
import { EXAMPLE_EVENTS } from "../src/core/index.ts";
import { openLoop } from "./load.ts";
import { resultsOf } from "./record-results.ts";
import { startRelay } from "./stack.ts";

const SECONDS = Number(process.env.SECONDS ?? 30);
const run = Date.now().toString(36);
const VICTIM = `victim_${run}`;
const NOISY = `noisy_${run}`;
/** Each tenant sends with a key of its own, so neither spends the other's key limit. */
const KEYS: Record<string, string> = { [VICTIM]: `sk_victim_${run}`, [NOISY]: `sk_noisy_${run}` };

interface Scenario {
  name: string;
  /** The relay's settings for this scenario. */
  env: Record<string, string>;
  /** The neighbour's load: calls a second of 100 events each. */
  neighbourCallsPerSecond: number;
}

const scenarios: Scenario[] = [
  {
    // Every call of the neighbour (100 events) is over its share of the write buffer.
    name: "write buffer, share of 50 events",
    env: { KAFKA_BUFFER_TOPIC_MAX_EVENTS: "50" },
    neighbourCallsPerSecond: 10,
  },
  {
    // The control: the same neighbour with a share larger than anything it sends.
    name: "write buffer, no share (20,000 events)",
    env: { KAFKA_BUFFER_TOPIC_MAX_EVENTS: "20000" },
    neighbourCallsPerSecond: 10,
  },
  {
    // The neighbour sends four times its own limit and is refused 429 for the excess.
    name: "rate limit, neighbour at 4× its limit of 500 events/s",
    env: { RATE_LIMIT_TENANT_OVERRIDES: `${NOISY}=500` },
    neighbourCallsPerSecond: 20,
  },
];

const { event_id: _id, ...event } = EXAMPLE_EVENTS.video_data;
/** One batched call of `n` events of `tenant`; rejects unless all were accepted. */
const batch = async (url: string, tenant: string, n: number) => {
  const response = await fetch(`${url}/api/v1/behaviors/track/batch`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEYS[tenant]}` },
    body: JSON.stringify({
      events: Array.from({ length: n }, (_, i) => ({ ...event, tenant_id: tenant, user_id: `u_${i}` })),
    }),
  });
  const answer = (await response.json()) as { succeeded?: number };
  if (response.status !== 200 || answer.succeeded !== n) throw new Error(`${response.status}`);
};

const results: Record<string, unknown>[] = [];
for (const scenario of scenarios) {
  const relay = await startRelay({
    RELAY_API_KEYS: Object.entries(KEYS)
      .map(([tenant, key]) => `${key}=${tenant}`)
      .join(","),
    MONGODB_DB: `bench_isolation_${run}`,
    ...scenario.env,
  });
  try {
    // Both topics exist before anything is measured.
    await batch(relay.httpUrl, VICTIM, 10);
    await batch(relay.httpUrl, NOISY, 10);
    const victim = () => openLoop(() => batch(relay.httpUrl, VICTIM, 5), 20, 5, SECONDS);
    const alone = await victim();
    const [beside, neighbour] = await Promise.all([
      victim(),
      openLoop(() => batch(relay.httpUrl, NOISY, 100), scenario.neighbourCallsPerSecond, 100, SECONDS),
    ]);
    const result = {
      scenario: scenario.name,
      victim_alone: { error_rate: alone.error_rate, p50_ms: alone.p50_ms, p99_ms: alone.p99_ms },
      victim_beside: { error_rate: beside.error_rate, p50_ms: beside.p50_ms, p99_ms: beside.p99_ms },
      victim_p99_ratio: +(beside.p99_ms / alone.p99_ms).toFixed(2),
      neighbour: {
        offered_events_per_second: neighbour.offered_events_per_second,
        error_rate: neighbour.error_rate,
      },
    };
    console.log(JSON.stringify(result));
    results.push(result);
  } finally {
    await relay.stop();
  }
}

resultsOf("isolation")({ seconds: SECONDS, victim_calls_per_second: 20, victim_events_per_call: 5, results });
