// Edge benchmark: events/s and latency through the edge in workerd (Miniflare) to the relay and Kafka,
// single and batched (beacon bodies of 100). Everything on this machine. Run with `npm run bench:edge`
// (needs Kafka and the MongoDB-wire server; scripts/with-services.sh starts them when none answer).
// Writes bench/results/edge-http.json.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";
import { EXAMPLE_EVENTS } from "../src/core/index.ts";
import { closedLoop, openLoop, PHASE_SECONDS, waitForHttp } from "./load.ts";

const root = join(import.meta.dirname, "..");
const ADMIN = "bench_admin_token_0123456789";
const EDGE = "bench_edge_token_0123456789";
const tenant = `edgebench_${Date.now().toString(36)}`;
const {
  event_id: _i,
  timestamp: _t,
  ...event
} = { ...EXAMPLE_EVENTS.video_data, tenant_id: tenant, event_id: "", timestamp: 0 };

const relay: ChildProcess = spawn("sh", [join(root, "scripts", "relay.sh")], {
  env: {
    ...process.env,
    RELAY_HTTP_PORT: "18383",
    RELAY_GRPC_PORT: "15353",
    SPOOL_DIR: await mkdtemp(join(tmpdir(), "edge-bench-")),
    ADMIN_TOKEN: ADMIN,
    EDGE_TOKEN: EDGE,
    MONGODB_DB: tenant,
    LOG_LEVEL: "warn",
  },
  stdio: "inherit",
});
const relayUrl = "http://127.0.0.1:18383";
await waitForHttp(`${relayUrl}/livez`);
const admin = async (path: string, body: unknown) =>
  (await (
    await fetch(`${relayUrl}${path}`, {
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
const service = (await admin("/api/v1/api-keys", { kind: "service" })).key;

const outdir = await mkdtemp(join(tmpdir(), "edge-bench-build-"));
await promisify(execFile)(
  join(root, "node_modules", ".bin", "wrangler"),
  ["deploy", "--dry-run", "--outdir", outdir],
  { cwd: root, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
);
const mf = new Miniflare({
  modules: true,
  scriptPath: join(outdir, "cloudflare.js"),
  modulesRoot: outdir,
  compatibilityDate: "2026-07-01",
  compatibilityFlags: ["nodejs_compat"],
  kvNamespaces: ["CONFIGS"],
  queueProducers: { EVENTS: { queueName: "behavior-edge-events" } },
  bindings: { RELAY_URL: relayUrl, RELAY_SERVICE_KEY: service, EDGE_TOKEN: EDGE },
  host: "127.0.0.1",
  port: 18789,
});
const edgeUrl = (await mf.ready).toString().replace(/\/$/, "");

const single = JSON.stringify(event);
const batch = JSON.stringify({ events: Array.from({ length: 100 }, () => event) });
const send = async (body: string, count: number) => {
  const response = await fetch(`${edgeUrl}/api/v1/behaviors/collect?key=${key}`, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body,
  });
  if (response.status !== 200) throw new Error(`edge answered ${response.status}`);
  await response.arrayBuffer();
  return count;
};

await send(single, 1);
const batched = await closedLoop(() => send(batch, 100), 16);
const singlePeak = await closedLoop(() => send(single, 1), 64);
const singleHalf = await openLoop(
  () => send(single, 1),
  Math.max(1, Math.round(singlePeak.events_per_second / 2)),
);
await mf.dispose();
relay.kill("SIGTERM");

const result = {
  benchmark:
    "edge (workerd via Miniflare) → relay → Kafka, text/plain beacon bodies, everything on one machine",
  date: new Date().toISOString(),
  cpu: `${cpus().length} × ${cpus()[0]?.model ?? "unknown"}`,
  load_average_1m: loadavg()[0],
  phase_seconds: PHASE_SECONDS,
  edge_batched_100: batched,
  edge_single_peak: singlePeak,
  edge_single_at_half_peak: singleHalf,
  spec_http_target_events_per_second: 5000,
  ratio_batched_to_spec_target: +(batched.events_per_second / 5000).toFixed(2),
};
writeFileSync(join(root, "bench", "results", "edge-http.json"), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
process.exit(0);
