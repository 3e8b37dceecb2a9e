// What the scenarios of `npm run bench` (bench/run.ts) share: the brokers and a tenant of this run's
// own, the sample event in each form the paths take, the core the systems under test are pinned to,
// and the generators' calls (ghz for gRPC, vegeta for HTTP) with the relay's key.
import { execFile } from "node:child_process";
import { cpus } from "node:os";
import { promisify } from "node:util";
import { toJson } from "@bufbuild/protobuf";
import { EXAMPLE_EVENTS, encodeEvent, eventToProto, validateEvent } from "../../src/core/index.ts";
import { BehaviorEventSchema } from "../../src/gen/recommender/v1/behavior_pb.js";
import { cpuPhase } from "../efficiency.ts";
import { type GeneratorRun, ghz, vegeta } from "../generators.ts";

const run = promisify(execFile);
export const started = Date.now();
export const say = (line: string) =>
  console.log(`[bench ${Math.round((Date.now() - started) / 1000)}s] ${line}`);

export const BROKERS = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
export const KEY = "svc_bench_0123456789";
export const ADMIN = "bench_admin_token_0123456789";
export const EDGE_SECRET = "bench_edge_secret_0123456789abcdef0123456789";
export const tenant = `bench_${Date.now().toString(36)}`;
const { event_id: _id, timestamp: _ts, ...sampleEvent } = { ...EXAMPLE_EVENTS.video_data, tenant_id: tenant };
export const event = sampleEvent;
const sample = validateEvent(event);
if (!sample.ok) throw new Error("the sample event must be valid");
const encoded = encodeEvent(sample.event);
if (!encoded.ok) throw new Error("the sample event must encode");
export const RECORD_BYTES = Buffer.byteLength(encoded.json);
const protoEvent = eventToProto({ ...sample.event, event_id: "" } as typeof sample.event);
export const single = JSON.stringify(event);
export const beacon = JSON.stringify({ events: Array.from({ length: 100 }, () => event) });

/** Calls per second of the fixed-load single-call phases that CPU per call is compared at. */
export const SINGLE_RATE = 300;
export const SINGLE_SECONDS = 10;
/** How long the closed-loop batched phases (calls of 100 events, 50 under way) run, or how many calls. */
export const BATCH_SECONDS = 6;
export const BATCH_CALLS = 1500;
/** The relay, the edge and the floors run on one core when the machine lets us pin them. */
export const cpuList = await run("taskset", ["-c", "1", "true"]).then(
  () => (cpus().length >= 2 ? "1" : null),
  () => null,
);
export const pinned = cpuList ?? undefined;

const protoJson = toJson(BehaviorEventSchema, protoEvent);
const auth = { authorization: `Bearer ${KEY}` };
export const grpcSingle = (target: string, rps: number, calls: number) =>
  ghz({
    target,
    method: "recommender.v1.BehaviorService/TrackEvent",
    data: { event: protoJson },
    metadata: auth,
    rps,
    calls,
    concurrency: 50,
  });
export const grpcBatched = (target: string, rps: number, calls: number) =>
  ghz({
    target,
    method: "recommender.v1.BehaviorService/TrackEvents",
    data: { events: Array.from({ length: 100 }, () => protoJson) },
    metadata: auth,
    rps,
    calls,
    concurrency: 50,
  });
export const post = (
  url: string,
  body: string,
  headers: Record<string, string>,
  rps: number,
  seconds: number,
) => vegeta({ url, body, headers, rps, seconds, workers: 50 });
export const jsonHeaders = { "content-type": "application/json", ...auth };

/** A phase run once unmeasured (JIT warm-up), then measured. */
export const warmed = async (
  processes: Record<string, number | undefined>,
  perCall: number,
  drive: () => Promise<GeneratorRun>,
) => {
  await drive();
  return cpuPhase(processes, perCall, drive);
};

/** Pins a process the bench did not start itself (workerd) to the bench's core, where it can. */
export const pin = async (pid: number | undefined) => {
  if (pinned !== undefined && pid !== undefined) await run("taskset", ["-pc", pinned, String(pid)]);
};
