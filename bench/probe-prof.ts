import { toJson } from "@bufbuild/protobuf";
import { EXAMPLE_EVENTS, eventToProto, validateEvent } from "../src/core/index.ts";
import { BehaviorEventSchema } from "../src/gen/recommender/v1/behavior_pb.js";
import { cpuPhase } from "./efficiency.ts";
import { ghz, vegeta } from "./generators.ts";
import { startRelay } from "./stack.ts";

const KEY = "svc_bench_0123456789";
const tenant = `probe_${Date.now().toString(36)}`;
const { event_id: _id, timestamp: _ts, ...event } = { ...EXAMPLE_EVENTS.video_data, tenant_id: tenant };
const sample = validateEvent(event);
if (!sample.ok) throw new Error("x");
const protoJson = toJson(
  BehaviorEventSchema,
  eventToProto({ ...sample.event, event_id: "" } as typeof sample.event),
);
const which = process.argv[2] ?? "grpc";
const relay = await startRelay(
  {
    KAFKA_BROKERS: "127.0.0.1:9092",
    RELAY_API_KEYS: `${KEY}=*`,
    ADMIN_TOKEN: "bench_admin_token_0123456789",
    MONGODB_DB: tenant,
    HOT_KEY_EVENTS_PER_SECOND: "0",
    RATE_LIMIT_KEY_EVENTS_PER_SECOND: "100000000",
    RATE_LIMIT_TENANT_EVENTS_PER_SECOND: "100000000",
    ...(process.env.RELAY_ENV ? JSON.parse(process.env.RELAY_ENV) : {}),
  },
  "1",
);
const p = { relay: relay.pid() };
const auth = { authorization: `Bearer ${KEY}` };
const batch = JSON.stringify({ events: Array.from({ length: 100 }, () => event) });
const drive =
  which === "grpc"
    ? () =>
        ghz({
          target: "127.0.0.1:15151",
          method: "recommender.v1.BehaviorService/TrackEvent",
          data: { event: protoJson },
          metadata: auth,
          rps: 300,
          calls: 3000,
          concurrency: 50,
        })
    : which === "grpcb"
      ? () =>
          ghz({
            target: "127.0.0.1:15151",
            method: "recommender.v1.BehaviorService/TrackEvents",
            data: { events: Array.from({ length: 100 }, () => protoJson) },
            metadata: auth,
            rps: 0,
            calls: 1500,
            concurrency: 50,
          })
      : which === "restb"
        ? () =>
            vegeta({
              url: "http://127.0.0.1:18181/api/v1/behaviors/track/batch",
              body: batch,
              headers: { "content-type": "application/json", ...auth },
              rps: 0,
              seconds: 6,
              workers: 50,
            })
        : () =>
            vegeta({
              url: "http://127.0.0.1:18181/api/v1/behaviors/track",
              body: JSON.stringify(event),
              headers: { "content-type": "application/json", ...auth },
              rps: 300,
              seconds: 10,
              workers: 50,
            });
await drive();
const { readdirSync, readFileSync } = await import("node:fs");
const threads = () =>
  Object.fromEntries(
    readdirSync(`/proc/${relay.pid()}/task`).map((t) => {
      const st = readFileSync(`/proc/${relay.pid()}/task/${t}/stat`, "utf8");
      const name = st.slice(st.indexOf("(") + 1, st.lastIndexOf(")"));
      const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
      return [`${t}:${name}`, Number(f[11]) * 1000 + Number(f[12])];
    }),
  );
const t0 = threads();
if (process.env.STRACE) {
  const { spawn } = await import("node:child_process");
  const st = spawn("timeout", ["-s", "INT", "8", "strace", "-c", "-f", "-p", String(relay.pid())], {
    stdio: ["ignore", "inherit", "inherit"],
  });
}
if (!process.env.NOTHREADS)
  setTimeout(() => {
    const t1 = threads();
    console.log(
      Object.entries(t1)
        .map(([k, v]) => [k, "user", Math.floor((v - (t0[k] ?? 0)) / 1000), "sys", (v - (t0[k] ?? 0)) % 1000])
        .filter(([, , u, , s]) => (u as number) + (s as number) > 0),
    );
  }, 9000);
console.log(which, JSON.stringify(await cpuPhase(p, which.endsWith("b") ? 100 : 1, drive)));
await relay.stop();
