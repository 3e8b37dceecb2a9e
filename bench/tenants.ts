// One relay serving 1, 100, 1,000 and 10,000 active tenants, after the same load over 1,000 tenants
// with its store stopped for a minute. The load is a new user's on `npm run dev`: batched REST calls of 100 valid events,
// 40 calls a second (4,000 events/s; EVENTS_PER_CALL=10 makes it 400 calls of 10), each call's events spread over the tenants, who have no config.
// Each phase first writes one event per tenant (their topics are made then, once: Kafka's cold start is
// reported apart), then measures `SECONDS` of load: calls answered, p99, the relay's and Kafka's CPU per event
// (from /proc). After each phase one tracked event and one admin call show the relay answers normally.
//   npm run bench:tenants        (TENANTS=1,100 SECONDS=10 OUTAGE_SECONDS=20 for a short run)
// BENCH_RUN=<name> KEEP_TOPICS=1 keeps the tenants' topics for the next run of that name: making 10,000
// topics takes Kafka minutes, which a profile of the steady state need not wait for each time.
// Writes bench/results/<date>-tenants.json after each phase; docs/tenant-directory.md quotes the last run.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EXAMPLE_EVENTS } from "../src/core/index.ts";
import { openLoop } from "./load.ts";
import { resultsOf } from "./record-results.ts";
import { heapUsedMb, sends, spoolDrained, writePath, writePathBetween } from "./relay-metrics.ts";
import { startRelay } from "./stack.ts";
import { deleteTopics, recordsIn } from "./tenant-topics.ts";

const TENANTS = (process.env.TENANTS ?? "1,100,1000,10000").split(",").map(Number);
const SECONDS = Number(process.env.SECONDS ?? 60);
const OUTAGE_TENANTS = Number(process.env.OUTAGE_TENANTS ?? 1000);
const OUTAGE_SECONDS = Number(process.env.OUTAGE_SECONDS ?? 60);
/** Events per call (at most the batch limit, 100); the calls per second keep the rate at 4,000 events/s. */
const EVENTS_PER_CALL = Number(process.env.EVENTS_PER_CALL ?? 100);
const CALLS_PER_SECOND = 4000 / EVENTS_PER_CALL;
const KEY = "bench_tenants_key";
const ADMIN = "bench_tenants_admin";
const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const devDir = process.env.BEHAVIOR_INGEST_DEV_DIR ?? join(import.meta.dirname, "..", ".dev");
const run = process.env.BENCH_RUN ?? Date.now().toString(36);

const relay = await startRelay({
  RELAY_API_KEYS: `${KEY}=*`,
  ADMIN_TOKEN: ADMIN,
  // 10,000 tenants are 10,000 topics on one local broker: one partition each keeps that within its files.
  TOPIC_PARTITIONS: "1",
  MONGODB_DB: `bench_tenants_${run}`,
});

const { event_id: _id, timestamp: _ts, ...event } = EXAMPLE_EVENTS.video_data;
/** The body of call `i` over `tenants`: 100 events, each of the next tenant in turn. */
const bodyOf = (tenants: readonly string[], i: number) =>
  JSON.stringify({
    events: Array.from({ length: EVENTS_PER_CALL }, (_, j) => ({
      ...event,
      tenant_id: tenants[(i * EVENTS_PER_CALL + j) % tenants.length],
      user_id: `u_${j}`,
    })),
  });

/** One batched call; resolves with the events accepted, rejects unless every event was accepted. */
const track = async (body: string): Promise<number> => {
  const response = await fetch(`${relay.httpUrl}/api/v1/behaviors/track/batch`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    body,
  });
  const answer = (await response.json()) as {
    code?: string;
    results?: { success: boolean; error_code?: string }[];
  };
  if (response.status !== 200) throw new Error(`${response.status} ${answer.code ?? ""}`.trim());
  const refused = (answer.results ?? []).filter((result) => !result.success);
  if (refused.length > 0) throw new Error(`200, some refused: ${refused[0]?.error_code}`);
  return EVENTS_PER_CALL;
};

/** How the relay answers right after a phase: one tracked event, one admin call, readiness. */
const afterwards = async (tenant: string) => {
  const timed = async (request: () => Promise<Response>) => {
    const started = performance.now();
    const response = await request();
    await response.arrayBuffer();
    return { status: response.status, ms: +(performance.now() - started).toFixed(1) };
  };
  return {
    track: await timed(() =>
      fetch(`${relay.httpUrl}/api/v1/behaviors/track/batch`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
        body: bodyOf([tenant], 0),
      }),
    ),
    admin: await timed(() =>
      fetch(`${relay.httpUrl}/api/v1/tracking-configs?tenant_id=${tenant}`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      }),
    ),
    readyz: (await fetch(`${relay.httpUrl}/readyz`)).status,
  };
};

/** One round over all tenants: one event each, 100 a call, 8 calls at once; the slowest call's time. */
const round = async (tenants: readonly string[]) => {
  const calls = Math.ceil(tenants.length / EVENTS_PER_CALL);
  let slowest = 0;
  let failed = 0;
  for (let i = 0; i < calls; i += 8) {
    await Promise.all(
      Array.from({ length: Math.min(8, calls - i) }, async (_, k) => {
        const started = performance.now();
        await track(bodyOf(tenants, i + k)).catch(() => {
          failed++;
        });
        slowest = Math.max(slowest, performance.now() - started);
      }),
    );
  }
  return { slowest, failed };
};

/** `seconds` of the load over `tenants`; the events acknowledged, what the load saw and why calls failed. */
const load = async (tenants: readonly string[], seconds: number) => {
  let call = 0;
  let acknowledged = 0;
  const failures: Record<string, number> = {};
  const step = await openLoop(
    async () => {
      try {
        acknowledged += await track(bodyOf(tenants, call++));
      } catch (error) {
        // The answer's status and code, or the client's own failure (a timeout, a reset connection).
        const why = error instanceof Error ? error.message : String(error);
        failures[why] = (failures[why] ?? 0) + 1;
        throw error;
      }
    },
    CALLS_PER_SECOND,
    EVENTS_PER_CALL,
    seconds,
    () => ({ relay: relay.pid(), kafka: kafkaPid() }),
  );
  return { step, acknowledged, calls: call, failures };
};

/**
 * Makes every tenant's topic (one event each), then runs the load in 10 s steps until one is clean (every
 * call answered, p99 under 250 ms). Kafka on this machine is busy for a minute or so after it made 1,000
 * partitions (measured with our producer alone: p50 1.6 s half a minute after, 4.6 ms later), which is
 * Kafka's cold start, reported here and not measured as the relay's load.
 */
const warmUp = async (tenants: readonly string[]) => {
  const started = performance.now();
  const first = await round(tenants);
  const first_round_ms = Math.round(performance.now() - started);
  let steps = 0;
  for (; steps < Number(process.env.WARM_UP_STEPS ?? 20); steps++) {
    await spoolDrained(relay.httpUrl);
    const before = await writePath(relay.httpUrl);
    const { step } = await load(tenants, 10);
    // Shown as it goes: a phase whose Kafka does not settle takes minutes.
    console.log(
      JSON.stringify({
        tenants: tenants.length,
        warm_up_step: steps,
        error_rate: step.error_rate,
        p99_ms: step.p99_ms,
        write_path: writePathBetween(before, await writePath(relay.httpUrl)),
      }),
    );
    if (step.error_rate === 0 && step.p99_ms < 250) break;
  }
  return {
    first_round_ms,
    failed_calls: first.failed,
    steps,
    settled_ms: Math.round(performance.now() - started),
  };
};

/** The dev broker's process (scripts/kafka.sh), whose CPU per event is reported beside the relay's. */
const kafkaPid = () => pidIn(join(devDir, "kafka", "kafka.pid"));
const pidIn = (file: string) => {
  try {
    return Number(readFileSync(file, "utf8")) || undefined;
  } catch {
    return undefined;
  }
};

const tenantsOf = (n: number) => Array.from({ length: n }, (_, i) => `bt_${run}_${n}_${i}`);
const phases: Record<string, unknown>[] = [];
/**
 * The tenants whose topics the run made, deleted at its end: Kafka removes a deleted topic's files a
 * minute later (`file.delete.delay.ms`), which landed in the next phase's measurement when each phase
 * deleted its own.
 */
const made: string[] = [];
let outage: Record<string, unknown> = { skipped: "no FerretDB started by scripts/ferretdb.sh" };
const record = resultsOf("tenants");
/** Written after every phase, so that a run cut short keeps what it measured. */
const save = () =>
  record({
    calls_per_second: CALLS_PER_SECOND,
    events_per_call: EVENTS_PER_CALL,
    seconds: SECONDS,
    outage,
    phases,
  });
try {
  // The store stopped (SIGSTOP: connections stay open and nothing answers, the worst case) under load;
  // first, on a broker with nothing else to do (deleting thousands of topics keeps Kafka busy).
  const storePid = pidIn(join(devDir, "ferretdb", "ferretdb.pid"));
  if (OUTAGE_SECONDS > 0 && storePid !== undefined && process.env.MONGODB_URI === undefined) {
    const tenants = tenantsOf(OUTAGE_TENANTS).map((tenant) => `${tenant}_outage`);
    made.push(...tenants);
    await warmUp(tenants);
    const before = await recordsIn(brokers, `bench_${run}`, tenants);
    process.kill(storePid, "SIGSTOP");
    let result: Awaited<ReturnType<typeof load>>;
    try {
      result = await load(tenants, OUTAGE_SECONDS);
    } finally {
      process.kill(storePid, "SIGCONT");
    }
    const { step, calls, acknowledged, failures } = result;
    const spool_drained_ms = await spoolDrained(relay.httpUrl);
    const stored = (await recordsIn(brokers, `bench_${run}`, tenants)) - before;
    outage = {
      tenants: OUTAGE_TENANTS,
      seconds: OUTAGE_SECONDS,
      calls,
      answered_200: Math.round(calls * (1 - step.error_rate)),
      failures,
      p99_ms: step.p99_ms,
      events_acknowledged: acknowledged,
      events_in_kafka: stored,
      spool_drained_ms,
      lost: Math.max(0, acknowledged - stored),
      after: await afterwards(tenants[0] as string),
    };
    console.log(JSON.stringify(outage));
    save();
  }

  for (const n of TENANTS) {
    const tenants = tenantsOf(n);
    made.push(...tenants);
    const warm_up = await warmUp(tenants);
    const before = await writePath(relay.httpUrl);
    const sendsBefore = await sends(relay.httpUrl);
    const { step, calls, failures } = await load(tenants, SECONDS);
    const sendsAfter = await sends(relay.httpUrl);
    const write_path = writePathBetween(before, await writePath(relay.httpUrl));
    const after = await afterwards(tenants[0] as string);
    const phase = {
      tenants: n,
      warm_up,
      calls,
      answered_200: Math.round(calls * (1 - step.error_rate)),
      failures,
      p50_ms: step.p50_ms,
      p99_ms: step.p99_ms,
      relay_cpu_us_per_event: step.cpu?.us_per_event.relay,
      kafka_cpu_us_per_event: step.cpu?.us_per_event.kafka,
      relay_event_loop_p99_ms: sendsAfter.loopP99Ms,
      lane_sends_over_250ms: sendsAfter.all - sendsBefore.all - (sendsAfter.fast - sendsBefore.fast),
      lane_sends: sendsAfter.all - sendsBefore.all,
      relay_rss_mb: relay.memory.now(),
      relay_heap_used_mb: await heapUsedMb(relay.httpUrl),
      write_path,
      after,
    };
    console.log(JSON.stringify(phase));
    phases.push(phase);
    save();
  }
} finally {
  await relay.stop();
  if (!process.env.KEEP_TOPICS) await deleteTopics(brokers, made);
}
