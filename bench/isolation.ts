// One tenant doing its worst beside another: the victim's acceptance and p99 alone and then beside the
// neighbour, per shared resource, with the relay in its own process. A test's relay shares the test's
// event loop and two cores with other test files, so this is measured here, not asserted in test/.
// Each scenario starts a relay of its own with the settings it names.
//   npm run bench:isolation   (SECONDS=30: 600 calls of the victim, of which the p99 is the sixth slowest;
//                              ONLY=<part of a scenario's name> runs those scenarios alone)
// Writes bench/results/<date>-isolation.json.
import { Admin } from "@platformatic/kafka";
import { EXAMPLE_EVENTS, topicFor } from "../src/core/index.ts";
import { openLoop } from "./load.ts";
import { resultsOf } from "./record-results.ts";
import { startRelay } from "./stack.ts";

const SECONDS = Number(process.env.SECONDS ?? 30);
const run = Date.now().toString(36);
const VICTIM = `victim_${run}`;
/** Each tenant sends with a key of its own, so neither spends the other's key limit. */
const keyOf = (tenant: string) => `sk_${tenant}`;

interface Scenario {
  name: string;
  /** The relay's settings for this scenario, given the neighbour (a tenant of its own in each scenario). */
  env: (neighbour: string) => Record<string, string>;
  /** The neighbour's load: calls a second of 100 events each. */
  neighbourCallsPerSecond: number;
  /** The neighbour's topic is never made (auto-creation off): its events fill its share of the spool. */
  neighbourTopicMissing?: true;
  /** Live views of its own tenant the neighbour keeps open while it sends, each read to the end. */
  neighbourLiveViews?: number;
}

const scenarios: Scenario[] = [
  {
    // Every call of the neighbour (100 events) is over its share of the write buffer.
    name: "write buffer, share of 50 events",
    env: () => ({ KAFKA_BUFFER_TOPIC_MAX_EVENTS: "50" }),
    neighbourCallsPerSecond: 10,
  },
  {
    // The control: the same neighbour with a share larger than anything it sends.
    name: "write buffer, no share (20,000 events)",
    env: () => ({ KAFKA_BUFFER_TOPIC_MAX_EVENTS: "20000" }),
    neighbourCallsPerSecond: 10,
  },
  {
    // The neighbour sends four times its own limit and is refused 429 for the excess.
    name: "rate limit, neighbour at 4× its limit of 500 events/s",
    env: (neighbour) => ({ RATE_LIMIT_TENANT_OVERRIDES: `${neighbour}=500` }),
    neighbourCallsPerSecond: 20,
  },
  {
    // Every event of the neighbour waits in its spool until its share (8 MiB, about 13 s of its events) is
    // full, then is refused 503.
    name: "spool, neighbour's topic missing (an 8 MiB share)",
    env: () => ({ TOPIC_AUTO_CREATE: "false", SPOOL_TOPIC_MAX_BYTES: String(8 * 1024 * 1024) }),
    neighbourCallsPerSecond: 10,
    neighbourTopicMissing: true,
  },
  {
    // The neighbour watches its own 1,000 events/s on its whole share of live views.
    name: "live views, neighbour's share of 2 open",
    env: () => ({}),
    neighbourCallsPerSecond: 10,
    neighbourLiveViews: 2,
  },
];

const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
/** A topic made, unless there, as an operator makes it where writers may not create topics. */
const makeTopic = async (topic: string) => {
  const admin = new Admin({ clientId: "bench-isolation", bootstrapBrokers: brokers });
  try {
    if (!(await admin.listTopics()).includes(topic))
      await admin.createTopics({ topics: [topic], partitions: 12, replicas: 1 });
  } finally {
    await admin.close();
  }
};

const { event_id: _id, ...event } = EXAMPLE_EVENTS.video_data;
/** One batched call of `n` events of `tenant`; rejects unless all were accepted. */
const batch = async (url: string, tenant: string, n: number) => {
  const response = await fetch(`${url}/api/v1/behaviors/track/batch`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${keyOf(tenant)}` },
    body: JSON.stringify({
      events: Array.from({ length: n }, (_, i) => ({ ...event, tenant_id: tenant, user_id: `u_${i}` })),
    }),
  });
  const answer = (await response.json()) as { succeeded?: number };
  if (response.status !== 200 || answer.succeeded !== n) throw new Error(`${response.status}`);
};

const results: Record<string, unknown>[] = [];
for (const [i, scenario] of scenarios.entries()) {
  if (!scenario.name.includes(process.env.ONLY ?? "")) continue;
  const neighbour = `noisy_${run}_${i}`;
  const env = scenario.env(neighbour);
  const relay = await startRelay({
    RELAY_API_KEYS: [VICTIM, neighbour].map((tenant) => `${keyOf(tenant)}=${tenant}`).join(","),
    MONGODB_DB: `bench_isolation_${run}`,
    ...env,
  });
  try {
    // The topics exist before anything is measured (but a missing one), made by the relay's own writes.
    if (env.TOPIC_AUTO_CREATE === "false") await makeTopic(topicFor(VICTIM));
    await batch(relay.httpUrl, VICTIM, 10);
    if (!scenario.neighbourTopicMissing) await batch(relay.httpUrl, neighbour, 10);
    const views = new AbortController();
    for (let n = 0; n < (scenario.neighbourLiveViews ?? 0); n++) {
      const view = await fetch(`${relay.httpUrl}/api/v1/tenants/${neighbour}/events/live`, {
        headers: { authorization: `Bearer ${keyOf(neighbour)}` },
        signal: views.signal,
      });
      if (view.status !== 200) throw new Error(`live view: ${view.status}`);
      void view.body?.pipeTo(new WritableStream()).catch(() => undefined);
    }
    /** Why the victim's failed calls failed (the status, or the fetch's error), by count. */
    const failures: Record<string, number> = {};
    const victimCall = () =>
      batch(relay.httpUrl, VICTIM, 5).catch((error: Error) => {
        failures[error.message] = (failures[error.message] ?? 0) + 1;
        throw error;
      });
    const victim = () => openLoop(victimCall, 20, 5, SECONDS);
    const alone = await victim();
    const [beside, neighbourLoad] = await Promise.all([
      victim(),
      openLoop(() => batch(relay.httpUrl, neighbour, 100), scenario.neighbourCallsPerSecond, 100, SECONDS),
    ]);
    const result = {
      scenario: scenario.name,
      victim_alone: { error_rate: alone.error_rate, p50_ms: alone.p50_ms, p99_ms: alone.p99_ms },
      victim_beside: { error_rate: beside.error_rate, p50_ms: beside.p50_ms, p99_ms: beside.p99_ms },
      victim_p99_ratio: +(beside.p99_ms / alone.p99_ms).toFixed(2),
      victim_failures: failures,
      neighbour: {
        offered_events_per_second: neighbourLoad.offered_events_per_second,
        error_rate: neighbourLoad.error_rate,
      },
    };
    console.log(JSON.stringify(result));
    results.push(result);
    views.abort();
  } finally {
    await relay.stop();
  }
}

resultsOf("isolation")({ seconds: SECONDS, victim_calls_per_second: 20, victim_events_per_call: 5, results });
