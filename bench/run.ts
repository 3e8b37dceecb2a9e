// `npm run bench`: every benchmark in one run on this machine, each path beside its ceiling and its peer,
// under a stepped open-loop load. Writes bench/results/<date>.json and the report <date>.md with SVG
// charts. `npm run bench -- --only relay,edge` runs some paths (core, browser, relay, edge, kafka-direct,
// ceilings). Methodology: docs/performance.md.
import { execFile } from "node:child_process";
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { Agent, request } from "node:http";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { toJson } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { CompressionTypes, Kafka, logLevel } from "kafkajs";
import { pino } from "pino";
import { bundleTracker } from "../scripts/lib/tracker-bundle.ts";
import { EXAMPLE_EVENTS, encodeEvent, eventToProto, validateEvent } from "../src/core/index.ts";
import { BehaviorEventSchema, BehaviorService } from "../src/gen/recommender/v1/behavior_pb.js";
import { KafkaTracker } from "../src/sdk/kafka-tracker.ts";
import { measureValidation } from "./core.ts";
import { createTopic, producerLatencyAt, producerPerformance } from "./kafka-ceiling.ts";
import { HALF_SECONDS, STEP_SECONDS, type SteppedResult, steppedLoad } from "./load.ts";
import { writeReport } from "./report.ts";
import { startBareHttp, startEdge, startRelay } from "./stack.ts";

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

// node:http with keep-alive rather than fetch: in this process fetch tops out near 1,300 requests/s,
// a tenth of what autocannon reaches on the same bare server, and would measure itself.
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const post = (url: string, body: string, headers: Record<string, string>) =>
  new Promise<void>((resolve, reject) => {
    const req = request(url, { method: "POST", agent, headers }, (res) => {
      res.resume();
      res.on("end", () =>
        res.statusCode === 200 ? resolve() : reject(new Error(`${url} answered ${res.statusCode}`)),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });

/** autocannon (closed loop, 32 connections): an independent check of our HTTP load generator. */
const autocannon = async (url: string, body: string, headers: Record<string, string>) => {
  const args = ["-j", "-c", "32", "-d", String(STEP_SECONDS * 2), "-m", "POST", "-b", body];
  for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}: ${v}`);
  const { stdout } = await run(join(root, "node_modules", ".bin", "autocannon"), [...args, url], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const r = JSON.parse(stdout);
  return {
    requests_per_second: Math.round(r.requests.average),
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    non_2xx: r.non2xx,
    errors: r.errors,
  };
};

/** ghz (closed loop, 32 concurrent calls), the gRPC peer load tool, built from the Go module proxy. */
const ghz = async (target: string) => {
  const { stdout: bin } = await run("sh", [join(root, "scripts", "ghz.sh")], { timeout: 600_000 });
  const { stdout } = await run(
    bin.trim(),
    [
      "--insecure",
      "--proto",
      join(root, "protos", "recommender", "v1", "behavior.proto"),
      "--import-paths",
      join(root, "protos"),
      "--call",
      "recommender.v1.BehaviorService/TrackEvent",
      "-d",
      JSON.stringify({ event: toJson(BehaviorEventSchema, protoEvent) }),
      "-m",
      JSON.stringify({ authorization: `Bearer ${KEY}` }),
      "-c",
      "32",
      "-z",
      `${STEP_SECONDS * 2}s`,
      "--format",
      "json",
      target,
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const r = JSON.parse(stdout);
  const at = (p: number) =>
    +(
      (r.latencyDistribution?.find((d: { percentage: number }) => d.percentage === p)?.latency ?? 0) / 1e6
    ).toFixed(2);
  return {
    requests_per_second: Math.round(r.rps),
    p50_ms: at(50),
    p99_ms: at(99),
    status: r.statusCodeDistribution,
  };
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

if (wanted("relay") || wanted("edge")) {
  const relay = await startRelay({
    KAFKA_BROKERS: BROKERS.join(","),
    RELAY_API_KEYS: `${KEY}=*`,
    ADMIN_TOKEN: ADMIN,
    EDGE_SECRET,
    MONGODB_DB: tenant,
    // Every benchmark event is the same user's: measure the keyed path, not the hot-key spreading.
    HOT_KEY_EVENTS_PER_SECOND: "0",
  });
  try {
    const client = createClient(BehaviorService, createGrpcTransport({ baseUrl: relay.grpcUrl }));
    const auth = { headers: { authorization: `Bearer ${KEY}` } };
    const trackOne = () => client.trackEvent({ event: protoEvent }, auth);
    const batch = Array.from({ length: 100 }, () => protoEvent);
    await trackOne(); // provisions the topic
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const idle = relay.memory.now();
    const onSample = relay.memory.sample;
    if (wanted("relay")) {
      say("relay gRPC single");
      const measured = () => ({ relay: relay.pid() });
      paths.relay_grpc_single = await steppedLoad(trackOne, {
        startEventsPerSecond: 100,
        onSample,
        measured,
      });
      say("relay gRPC batched (100 per call)");
      paths.relay_grpc_batched = await steppedLoad(() => client.trackEvents({ events: batch }, auth), {
        startEventsPerSecond: 1000,
        eventsPerCall: 100,
        onSample,
        measured,
      });
      say("relay REST single");
      const restHeaders = { "content-type": "application/json", authorization: `Bearer ${KEY}` };
      const restUrl = `${relay.httpUrl}/api/v1/behaviors/track`;
      paths.relay_rest_single = await steppedLoad(() => post(restUrl, single, restHeaders), {
        startEventsPerSecond: 100,
        onSample,
        measured,
      });
      say("peers: autocannon on relay REST, ghz on relay gRPC");
      peers.autocannon_relay_rest = await autocannon(restUrl, single, restHeaders);
      peers.ghz_relay_grpc = await ghz(relay.grpcUrl.replace("http://", "")).catch((error: Error) => ({
        skipped: `ghz could not run: ${error.message.split("\n")[0]}`,
      }));
      memory.relay = { idle_mb: idle, peak_mb: relay.memory.peak };
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
        const collect = `${edge.url}/api/v1/behaviors/collect?key=${key}`;
        const track = `${edge.url}/api/v1/behaviors/track`;
        const trackHeaders = { "content-type": "application/json", authorization: `Bearer ${key}` };
        await post(track, single, trackHeaders);
        await new Promise((resolve) => setTimeout(resolve, 2000));
        const edgeIdle = edge.memory.now();
        const sampleBoth = () => {
          edge.memory.sample();
          relay.memory.sample();
        };
        // The edge's CPU is workerd's; the relay behind it is reported on its own.
        const measuredBoth = () => ({ edge: edge.pid(), relay: relay.pid() });
        say("edge HTTP single");
        paths.edge_http_single = await steppedLoad(() => post(track, single, trackHeaders), {
          startEventsPerSecond: 100,
          onSample: sampleBoth,
          measured: measuredBoth,
        });
        say("edge HTTP batched (beacon bodies of 100, text/plain)");
        paths.edge_http_batched = await steppedLoad(
          () => post(collect, beacon, { "content-type": "text/plain" }),
          {
            startEventsPerSecond: 1000,
            eventsPerCall: 100,
            onSample: sampleBoth,
            measured: measuredBoth,
          },
        );
        say("peer: autocannon on edge HTTP single");
        peers.autocannon_edge_single = await autocannon(track, single, trackHeaders);
        memory.edge_workerd = { idle_mb: edgeIdle, peak_mb: edge.memory.peak };
      } finally {
        await edge.stop();
      }
    }
  } finally {
    await relay.stop();
  }
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
  say("ceiling: bare Node HTTP server");
  const bare = await startBareHttp();
  try {
    paths.bare_http = await steppedLoad(
      () => post(bare.url, single, { "content-type": "application/json" }),
      {
        startEventsPerSecond: 200,
        measured: () => ({ bare_http: bare.pid() }),
      },
    );
    peers.autocannon_bare_http = await autocannon(bare.url, single, { "content-type": "application/json" });
  } finally {
    await bare.stop();
  }
}

const date = new Date().toISOString();
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
