// Relay benchmark: events/s and latency of gRPC single and batched calls into Kafka (acks=all), measured
// in one run beside Kafka's own ProducerPerformance (the ceiling) and a kafkajs producer doing the
// relay's job (the peer). Starts the relay as a child process to measure its resident memory.
// Run with `npm run bench:relay` (starts the local Kafka when none answers). Writes bench/results/relay-grpc.json.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { CompressionTypes, Kafka, logLevel } from "kafkajs";
import { EXAMPLE_EVENTS, encodeEvent, eventToProto, validateEvent } from "../src/core/index.ts";
import { BehaviorService } from "../src/gen/recommender/v1/behavior_pb.js";
import { createTopic, producerPerformance } from "./kafka-ceiling.ts";
import { closedLoop, openLoop, PHASE_SECONDS, waitForHttp } from "./load.ts";

const root = join(import.meta.dirname, "..");
const BROKERS = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const KEY = "svc_bench";
const tenant = `bench_${Date.now().toString(36)}`;

const sample = (() => {
  const result = validateEvent({ ...EXAMPLE_EVENTS.video_data, tenant_id: tenant });
  if (!result.ok) throw new Error("sample event must be valid");
  return result.event;
})();
const encoded = encodeEvent(sample);
if (!encoded.ok) throw new Error("sample event must encode");
const RECORD_BYTES = Buffer.byteLength(encoded.json);
const protoEvent = eventToProto({ ...sample, event_id: "" } as typeof sample);

const rssMb = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
};

async function kafkajsPeer() {
  const kafka = new Kafka({ clientId: "bench-kafkajs", brokers: BROKERS, logLevel: logLevel.NOTHING });
  const topic = `user-behaviors-${tenant}_kafkajs`;
  await createTopic(BROKERS, topic);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let sent = 0;
  const deadline = performance.now() + PHASE_SECONDS * 1000;
  const started = performance.now();
  // The relay's job: validate, serialise, produce keyed JSON with acks=all; 8 batches of 100 in flight.
  const worker = async () => {
    while (performance.now() < deadline) {
      const messages = Array.from({ length: 100 }, (_, i) => {
        const result = validateEvent({ ...EXAMPLE_EVENTS.video_data, tenant_id: tenant, user_id: `u${i}` });
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
  const seconds = (performance.now() - started) / 1000;
  await producer.disconnect();
  return { events_per_second: Math.round(sent / seconds) };
}

async function startRelay(): Promise<{ child: ChildProcess; url: string }> {
  // As `npm run relay` runs it: compiled, with a bounded heap.
  const child = spawn("sh", [join(root, "scripts", "relay.sh")], {
    env: {
      ...process.env,
      RELAY_HTTP_PORT: "18181",
      RELAY_GRPC_PORT: "15151",
      KAFKA_BROKERS: BROKERS.join(","),
      SPOOL_DIR: await mkdtemp(join(tmpdir(), "bench-spool-")),
      RELAY_API_KEYS: `${KEY}=*`,
      LOG_LEVEL: "warn",
    },
    stdio: "inherit",
  });
  await waitForHttp("http://127.0.0.1:18181/livez");
  return { child, url: "http://127.0.0.1:15151" };
}

const relay = await startRelay();
const client = createClient(BehaviorService, createGrpcTransport({ baseUrl: relay.url }));
const auth = { headers: { authorization: `Bearer ${KEY}` } };
const single = async () => {
  await client.trackEvent({ event: protoEvent }, auth);
  return 1;
};
const batch = Array.from({ length: 100 }, () => protoEvent);
const batched = async () => {
  await client.trackEvents({ events: batch }, auth);
  return 100;
};

await single(); // provisions the topic
await new Promise((r) => setTimeout(r, 2000));
const idleRss = rssMb(relay.child.pid as number);
let peakRss = idleRss;
const sampleRss = () => {
  peakRss = Math.max(peakRss, rssMb(relay.child.pid as number));
};

// 16 callers: fewer leave the relay idle between batches on this machine (8 gave ~30 % less).
const grpcBatched = await closedLoop(batched, 16, sampleRss);
const grpcSinglePeak = await closedLoop(single, 64, sampleRss);
const grpcSingleHalf = await openLoop(single, Math.max(1, Math.round(grpcSinglePeak.events_per_second / 2)));
relay.child.kill("SIGTERM");
await new Promise((r) => relay.child.once("exit", r));

const kafkaCeiling = await producerPerformance(BROKERS, `${tenant}_ceiling`, RECORD_BYTES);
const peer = await kafkajsPeer();

const result = {
  benchmark: "relay gRPC into Kafka (acks=all, gzip), everything on one machine",
  date: new Date().toISOString(),
  cpu: `${cpus().length} × ${cpus()[0]?.model ?? "unknown"}`,
  load_average_1m: loadavg()[0],
  record_bytes: RECORD_BYTES,
  phase_seconds: PHASE_SECONDS,
  kafka_producer_performance: kafkaCeiling,
  kafkajs_peer: peer,
  relay_grpc_batched_100: grpcBatched,
  relay_grpc_single_peak: grpcSinglePeak,
  relay_grpc_single_at_half_peak: grpcSingleHalf,
  relay_rss_mb: { idle: idleRss, peak: peakRss },
  ratios: {
    batched_over_ceiling: +(grpcBatched.events_per_second / kafkaCeiling.records_per_second).toFixed(2),
    batched_over_kafkajs: +(grpcBatched.events_per_second / peer.events_per_second).toFixed(2),
  },
};
writeFileSync(join(root, "bench", "results", "relay-grpc.json"), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
process.exit(0);
