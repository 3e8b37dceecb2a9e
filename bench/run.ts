// `npm run bench`: every benchmark in one run on this machine: each path's CPU per event beside its
// framework's floor, its sustained load under a stepped open loop driven by ghz or vegeta, and its
// ceiling and peer. Writes bench/results/<date>.json and the report <date>.md with SVG charts.
// `npm run bench -- --only relay,floors` runs some parts (core, browser, relay, auditor, edge, floors,
// kafka-direct, ceilings). Methodology: docs/performance.md.
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { createServer } from "node:http";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { toJson } from "@bufbuild/protobuf";
import { CompressionTypes, Kafka, logLevel } from "kafkajs";
import { pino } from "pino";
import { bundleTracker } from "../scripts/lib/tracker-bundle.ts";
import { EXAMPLE_EVENTS, encodeEvent, eventToProto, validateEvent } from "../src/core/index.ts";
import { BehaviorEventSchema } from "../src/gen/recommender/v1/behavior_pb.js";
import { KafkaTracker } from "../src/sdk/kafka-tracker.ts";
import { auditorBench } from "./auditor.ts";
import { measureValidation } from "./core.ts";
import { cpuPhase, producerFloor, startFloor, startWorkerdFloor, steppedExternal } from "./efficiency.ts";
import { type GeneratorRun, ghz, vegeta } from "./generators.ts";
import type { Efficiency } from "./goals.ts";
import { createTopic, producerLatencyAt, producerPerformance } from "./kafka-ceiling.ts";
import { HALF_SECONDS, STEP_SECONDS, type SteppedResult, steppedLoad } from "./load.ts";
import { writeReport } from "./report.ts";
import { memoryWatch, startEdge, startRelay } from "./stack.ts";

const root = join(import.meta.dirname, "..");
const run = promisify(execFile);
const started = Date.now();
const only = process.argv.includes("--only")
  ? (process.argv[process.argv.indexOf("--only") + 1] ?? "").split(",")
  : undefined;
const wanted = (path: string) => only === undefined || only.includes(path);
const say = (line: string) => console.log(`[bench ${Math.round((Date.now() - started) / 1000)}s] ${line}`);

const BROKERS = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const KEY = "svc_bench_0123456789";
const ADMIN = "bench_admin_token_0123456789";
const EDGE_SECRET = "bench_edge_secret_0123456789abcdef0123456789";
const tenant = `bench_${Date.now().toString(36)}`;
const { event_id: _id, timestamp: _ts, ...event } = { ...EXAMPLE_EVENTS.video_data, tenant_id: tenant };
const sample = validateEvent(event);
if (!sample.ok) throw new Error("the sample event must be valid");
const encoded = encodeEvent(sample.event);
if (!encoded.ok) throw new Error("the sample event must encode");
const RECORD_BYTES = Buffer.byteLength(encoded.json);
const protoEvent = eventToProto({ ...sample.event, event_id: "" } as typeof sample.event);
const single = JSON.stringify(event);
const beacon = JSON.stringify({ events: Array.from({ length: 100 }, () => event) });

/** Calls per second of the fixed-load single-call phases that CPU per call is compared at. */
const SINGLE_RATE = 300;
const SINGLE_SECONDS = 10;
/** How long the closed-loop batched phases (calls of 100 events, 50 under way) run, or how many calls. */
const BATCH_SECONDS = 6;
const BATCH_CALLS = 1500;
/** The relay, the edge and the floors run on one core when the machine lets us pin them. */
const cpuList = await run("taskset", ["-c", "1", "true"]).then(
  () => (cpus().length >= 2 ? "1" : null),
  () => null,
);
const pinned = cpuList ?? undefined;

const protoJson = toJson(BehaviorEventSchema, protoEvent);
const auth = { authorization: `Bearer ${KEY}` };
const grpcSingle = (target: string, rps: number, calls: number) =>
  ghz({
    target,
    method: "recommender.v1.BehaviorService/TrackEvent",
    data: { event: protoJson },
    metadata: auth,
    rps,
    calls,
    concurrency: 50,
  });
const grpcBatched = (target: string, rps: number, calls: number) =>
  ghz({
    target,
    method: "recommender.v1.BehaviorService/TrackEvents",
    data: { events: Array.from({ length: 100 }, () => protoJson) },
    metadata: auth,
    rps,
    calls,
    concurrency: 50,
  });
const post = (url: string, body: string, headers: Record<string, string>, rps: number, seconds: number) =>
  vegeta({ url, body, headers, rps, seconds, workers: 50 });
const jsonHeaders = { "content-type": "application/json", ...auth };

/** A phase run once unmeasured (JIT warm-up), then measured. */
const warmed = async (
  processes: Record<string, number | undefined>,
  perCall: number,
  drive: () => Promise<GeneratorRun>,
) => {
  await drive();
  return cpuPhase(processes, perCall, drive);
};

/** kafkajs doing the relay's job (validate, serialise, produce keyed JSON, acks=all, gzip): the peer producer. */
const kafkajsPeer = async () => {
  const kafka = new Kafka({ clientId: "bench-kafkajs", brokers: BROKERS, logLevel: logLevel.NOTHING });
  const topic = `user-behaviors-${tenant}_kafkajs`;
  await createTopic(BROKERS, topic);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let sent = 0;
  const t0 = performance.now();
  const deadline = t0 + STEP_SECONDS * 3 * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const messages = Array.from({ length: 100 }, (_, i) => {
        const result = validateEvent({ ...event, user_id: `u${i}` });
        if (!result.ok) throw new Error("invalid");
        return {
          key: result.event.user_id,
          value: JSON.stringify(result.event),
          headers: { event_id: result.event.event_id },
        };
      });
      await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages });
      sent += messages.length;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const seconds = (performance.now() - t0) / 1000;
  await producer.disconnect();
  return { events_per_second: Math.round(sent / seconds) };
};

const paths: Record<string, SteppedResult> = {};
const peers: Record<string, unknown> = {};
const ceilings: Record<string, unknown> = {};
const memory: Record<string, { idle_mb: number; peak_mb: number }> = {};
const extras: Record<string, unknown> = {};

/** Kafka's JVM (the broker scripts/kafka.sh started), the stack's largest process, sampled all run long. */
const kafkaPidFile = join(process.env.BEHAVIOR_INGEST_DEV_DIR ?? join(root, ".dev"), "kafka", "kafka.pid");
const kafkaMemory = memoryWatch(() => {
  try {
    return Number(readFileSync(kafkaPidFile, "utf8").trim()) || undefined;
  } catch {
    return undefined; // a broker of KAFKA_BROKERS that this machine did not start: not measured
  }
});
const kafkaIdle = kafkaMemory.now();
const kafkaSampling = setInterval(kafkaMemory.sample, 500);

if (wanted("core")) {
  say("core validation");
  extras.core_validation = measureValidation();
}
if (wanted("browser")) {
  const bundle = await bundleTracker();
  extras.browser_tracker = {
    minified_bytes: Buffer.byteLength(bundle),
    gzip_bytes: gzipSync(bundle, { level: 9 }).length,
    target_gzip_bytes: 5 * 1024,
  };
}

const efficiency: Efficiency = { cpu_list: cpuList, single_calls_per_second: SINGLE_RATE, phases: {} };

if (wanted("relay") || wanted("edge") || wanted("auditor")) {
  const relay = await startRelay(
    {
      KAFKA_BROKERS: BROKERS.join(","),
      RELAY_API_KEYS: `${KEY}=*`,
      ADMIN_TOKEN: ADMIN,
      EDGE_SECRET,
      MONGODB_DB: tenant,
      // Every benchmark event is the same user's: measure the keyed path, not the hot-key spreading.
      HOT_KEY_EVENTS_PER_SECOND: "0",
      // The benchmark looks for the relay's limit, not the rate limiter's.
      RATE_LIMIT_KEY_EVENTS_PER_SECOND: "1000000000",
      RATE_LIMIT_TENANT_EVENTS_PER_SECOND: "1000000000",
    },
    pinned,
  );
  try {
    const grpcTarget = relay.grpcUrl.replace("http://", "");
    await grpcSingle(grpcTarget, 10, 1); // provisions the topic
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const idle = relay.memory.now();
    const onSample = relay.memory.sample;
    const measured = () => ({ relay: relay.pid() });
    if (wanted("relay")) {
      const restUrl = `${relay.httpUrl}/api/v1/behaviors/track`;
      const restBatchUrl = `${relay.httpUrl}/api/v1/behaviors/track/batch`;
      const sampling = setInterval(onSample, 250);
      try {
        say(`relay CPU per event (pinned to CPU ${cpuList ?? "none"})`);
        efficiency.phases.relay_grpc_single = await warmed(measured(), 1, () =>
          grpcSingle(grpcTarget, SINGLE_RATE, SINGLE_RATE * SINGLE_SECONDS),
        );
        efficiency.phases.relay_grpc_batched = await warmed(measured(), 100, () =>
          grpcBatched(grpcTarget, 0, BATCH_CALLS),
        );
        efficiency.phases.relay_rest_single = await warmed(measured(), 1, () =>
          post(restUrl, single, jsonHeaders, SINGLE_RATE, SINGLE_SECONDS),
        );
        efficiency.phases.relay_rest_batched = await warmed(measured(), 100, () =>
          post(restBatchUrl, beacon, jsonHeaders, 0, BATCH_SECONDS),
        );
      } finally {
        clearInterval(sampling);
      }
      say("relay gRPC single (ghz)");
      paths.relay_grpc_single = await steppedExternal(
        (rps, seconds) => grpcSingle(grpcTarget, rps, rps * seconds),
        measured,
        { startEventsPerSecond: 200, onSample },
      );
      say("relay gRPC batched (ghz, 100 per call)");
      paths.relay_grpc_batched = await steppedExternal(
        (rps, seconds) => grpcBatched(grpcTarget, rps, rps * seconds),
        measured,
        { startEventsPerSecond: 2000, eventsPerCall: 100, onSample },
      );
      say("relay REST single (vegeta)");
      paths.relay_rest_single = await steppedExternal(
        (rps, seconds) => post(restUrl, single, jsonHeaders, rps, seconds),
        measured,
        { startEventsPerSecond: 200, onSample },
      );
      say("relay REST batched (vegeta, 100 per call)");
      paths.relay_rest_batched = await steppedExternal(
        (rps, seconds) => post(restBatchUrl, beacon, jsonHeaders, rps, seconds),
        measured,
        { startEventsPerSecond: 2000, eventsPerCall: 100, onSample },
      );
      memory.relay = { idle_mb: idle, peak_mb: relay.memory.peak };
    }
    if (wanted("auditor")) {
      // The auditor re-checks what the relay writes: a tenant of its own, so only its records count.
      const auditTenant = `${tenant}_audit`;
      const body = JSON.stringify({
        events: Array.from({ length: 100 }, () => ({ ...event, tenant_id: auditTenant })),
      });
      const sustained = paths.relay_rest_batched?.sustained?.achieved_events_per_second;
      const steadyRate = Math.round((sustained ?? 20_000) / 2);
      say(`auditor: a backlog, then the relay writing ${steadyRate} ev/s`);
      extras.auditor = await auditorBench({
        brokers: BROKERS,
        tenant: auditTenant,
        write: (rps, seconds) =>
          post(`${relay.httpUrl}/api/v1/behaviors/track/batch`, body, jsonHeaders, rps, seconds),
        steadyRate,
        steadySeconds: 15,
      });
    }
    if (wanted("edge")) {
      const admin = async (path: string, body: unknown) =>
        (await (
          await fetch(`${relay.httpUrl}${path}`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
            body: JSON.stringify(body),
          })
        ).json()) as { key: string };
      await admin("/api/v1/tracking-configs/from-template", {
        tenant_id: tenant,
        scenario_id: "vlog_feed",
        template_id: "video",
        name: "Vlog",
      });
      const key = (await admin("/api/v1/api-keys", { kind: "publishable", tenant_id: tenant })).key;
      say("edge (workerd) build and start");
      const edge = await startEdge(relay.httpUrl, EDGE_SECRET);
      try {
        const edgePid = edge.pid();
        if (pinned !== undefined && edgePid !== undefined)
          await run("taskset", ["-pc", pinned, String(edgePid)]);
        const collect = `${edge.url}/api/v1/behaviors/collect?key=${key}`;
        const track = `${edge.url}/api/v1/behaviors/track`;
        const trackHeaders = { "content-type": "application/json", authorization: `Bearer ${key}` };
        await post(track, single, trackHeaders, 10, 1);
        await new Promise((resolve) => setTimeout(resolve, 2000));
        const edgeIdle = edge.memory.now();
        const sampleBoth = () => {
          edge.memory.sample();
          relay.memory.sample();
        };
        // The edge's CPU is workerd's; the relay behind it is reported on its own.
        const measuredBoth = () => ({ edge: edge.pid(), relay: relay.pid() });
        say("edge CPU per call");
        efficiency.phases.edge_single = await warmed(measuredBoth(), 1, () =>
          post(track, single, trackHeaders, SINGLE_RATE, SINGLE_SECONDS),
        );
        say("edge HTTP single (vegeta)");
        paths.edge_http_single = await steppedExternal(
          (rps, seconds) => post(track, single, trackHeaders, rps, seconds),
          measuredBoth,
          { startEventsPerSecond: 200, onSample: sampleBoth },
        );
        say("edge HTTP batched (vegeta, beacon bodies of 100, text/plain)");
        paths.edge_http_batched = await steppedExternal(
          (rps, seconds) => post(collect, beacon, { "content-type": "text/plain" }, rps, seconds),
          measuredBoth,
          { startEventsPerSecond: 2000, eventsPerCall: 100, onSample: sampleBoth },
        );
        memory.edge_workerd = { idle_mb: edgeIdle, peak_mb: edge.memory.peak };
      } finally {
        await edge.stop();
      }
    }
  } finally {
    await relay.stop();
  }
}

if (wanted("floors")) {
  say(`floors: bare grpc-js, bare connect-node, bare Hono (node-server, workerd), raw producer`);
  const port = 18600;
  for (const kind of ["grpc-js", "connect"] as const) {
    const floor = await startFloor(kind, port, pinned);
    try {
      const name = kind.replace("-", "_");
      const target = `127.0.0.1:${port}`;
      efficiency.phases[`floor_${name}_single`] = await warmed({ floor: floor.pid() }, 1, () =>
        grpcSingle(target, SINGLE_RATE, SINGLE_RATE * SINGLE_SECONDS),
      );
      efficiency.phases[`floor_${name}_batched`] = await warmed({ floor: floor.pid() }, 100, () =>
        grpcBatched(target, 0, BATCH_CALLS),
      );
    } finally {
      await floor.stop();
    }
  }
  const hono = await startFloor("hono-node", port, pinned);
  try {
    const url = `http://127.0.0.1:${port}/track`;
    efficiency.phases.floor_hono_node_single = await warmed({ floor: hono.pid() }, 1, () =>
      post(url, single, jsonHeaders, SINGLE_RATE, SINGLE_SECONDS),
    );
    efficiency.phases.floor_hono_node_batched = await warmed({ floor: hono.pid() }, 100, () =>
      post(url, beacon, jsonHeaders, 0, BATCH_SECONDS),
    );
  } finally {
    await hono.stop();
  }
  // The upstream of the forwarding floor answers at once: its CPU is not workerd's.
  const upstream = createServer((_req, res) =>
    res.writeHead(200, { "content-type": "application/json" }).end('{"succeeded":1}'),
  );
  await new Promise<void>((resolve) => upstream.listen(port + 1, "127.0.0.1", resolve));
  const workerd = await startWorkerdFloor(port, `http://127.0.0.1:${port + 1}/`);
  try {
    const workerdPid = workerd.pid();
    if (pinned !== undefined && workerdPid !== undefined)
      await run("taskset", ["-pc", pinned, String(workerdPid)]);
    efficiency.phases.floor_hono_workerd_single = await warmed({ floor: workerdPid }, 1, () =>
      post(`http://127.0.0.1:${port}/track`, single, jsonHeaders, SINGLE_RATE, SINGLE_SECONDS),
    );
    efficiency.phases.floor_hono_workerd_fetch_single = await warmed({ floor: workerdPid }, 1, () =>
      post(`http://127.0.0.1:${port}/forward`, single, jsonHeaders, SINGLE_RATE, SINGLE_SECONDS),
    );
  } finally {
    await workerd.stop();
    upstream.close();
  }
  const topic = `user-behaviors-${tenant}_producer_floor`;
  await createTopic(BROKERS, topic);
  efficiency.producer_floor = await producerFloor(BROKERS, topic, 150_000, pinned);
  efficiency.producer_floor_single = await producerFloor(
    BROKERS,
    topic,
    SINGLE_RATE * SINGLE_SECONDS,
    pinned,
    SINGLE_RATE,
  );
}

if (wanted("kafka-direct")) {
  say("Kafka-direct tracker");
  const tracker = await KafkaTracker.open({
    brokers: BROKERS,
    tenantId: tenant,
    spoolDir: await mkdtemp(join(tmpdir(), "bench-tracker-spool-")),
    log: pino({ level: "warn" }),
    // As a latency-minded service sets it (the relay's default too); the default 1 s only matters
    // below 100 events/s, but it would hold the last events of every step for a second.
    lingerMs: 5,
    hotKeyEventsPerSecond: 0,
  });
  await tracker.track(event);
  paths.kafka_direct = await steppedLoad(
    async () => {
      const outcome = await tracker.track(event);
      if (!outcome.ok) throw new Error("refused");
    },
    { startEventsPerSecond: 2000 },
  );
  await tracker.close();
}

if (wanted("ceilings")) {
  say("ceiling: Kafka ProducerPerformance");
  ceilings.kafka_producer_performance = await producerPerformance(BROKERS, `${tenant}_ceiling`, RECORD_BYTES);
  const half = paths.relay_grpc_single?.at_half?.offered_events_per_second;
  if (half !== undefined) {
    say(`floor: Kafka ProducerPerformance latency at ${half} records/s`);
    ceilings.kafka_latency_at_relay_half_load = await producerLatencyAt(
      BROKERS,
      `${tenant}_floor`,
      RECORD_BYTES,
      half,
    );
  }
  say("peer: kafkajs producer");
  peers.kafkajs_producer = await kafkajsPeer();
}

const date = new Date().toISOString();
clearInterval(kafkaSampling);
if (kafkaIdle > 0) memory.kafka_jvm = { idle_mb: kafkaIdle, peak_mb: kafkaMemory.peak };
const result = {
  date,
  machine: {
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? "unknown"}`,
    memory_gb: Math.round(totalmem() / 1024 ** 3),
    node: process.versions.node,
    load_average_1m_at_end: loadavg()[0],
  },
  method: {
    step_seconds: STEP_SECONDS,
    half_seconds: HALF_SECONDS,
    record_bytes: RECORD_BYTES,
    note: "open loop, offered load ×1.6 per step until errors > 1 %, p99 > 2 s or < 85 % carried",
  },
  duration_seconds: Math.round((Date.now() - started) / 1000),
  efficiency,
  paths,
  ceilings,
  peers,
  memory,
  ...extras,
};
const dir = join(root, "bench", "results");
// One report in the repository: the last run's (git keeps the earlier ones).
if (only === undefined) {
  for (const name of readdirSync(dir)) rmSync(join(dir, name));
}
const stamp = date.slice(0, 19).replace(/:/g, "-");
writeFileSync(join(dir, `${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
writeReport(result, dir, stamp);
say(`done: bench/results/${stamp}.md`);
process.exit(existsSync(join(dir, `${stamp}.md`)) ? 0 : 1);
