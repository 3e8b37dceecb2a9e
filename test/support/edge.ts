import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";

const root = join(import.meta.dirname, "..", "..");

/**
 * The Cloudflare entry point as `wrangler deploy --dry-run` bundles it, running in real workerd
 * (Miniflare) on a fixed port, with its KV namespace and its queue (consumed back into the worker).
 */
export const startWorkerdEdge = async (options: {
  relayUrl: string;
  serviceKey: string;
  edgeToken: string;
  pushSecret: string;
  port: number;
  vars?: Record<string, string>;
}) => {
  const outdir = await mkdtemp(join(tmpdir(), "edge-build-"));
  await promisify(execFile)(
    join(root, "node_modules", ".bin", "wrangler"),
    ["deploy", "--dry-run", "--outdir", outdir],
    { cwd: root, env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, timeout: 120_000 },
  );
  const mf = new Miniflare({
    modules: true,
    scriptPath: join(outdir, "cloudflare.js"),
    modulesRoot: outdir,
    compatibilityDate: "2026-07-01",
    compatibilityFlags: ["nodejs_compat"],
    kvNamespaces: ["CONFIGS"],
    queueProducers: { EVENTS: { queueName: "behavior-edge-events" } },
    queueConsumers: { "behavior-edge-events": { maxBatchTimeout: 1, maxRetries: 10 } },
    bindings: {
      RELAY_URL: options.relayUrl,
      RELAY_SERVICE_KEY: options.serviceKey,
      EDGE_TOKEN: options.edgeToken,
      EDGE_PUSH_SECRET: options.pushSecret,
      ...options.vars,
    },
    host: "127.0.0.1",
    port: options.port,
  });
  await mf.ready;
  return mf;
};

/** Admin calls against a test relay, for the edge tests' setup. */
export const adminClient = (relayUrl: string, token: string) => async (path: string, body: unknown) => {
  const response = await fetch(`${relayUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as { key: string };
};

/** A tenant ready for the edge: a video config for vlog_feed, a publishable key and a service key. */
export const edgeTenant = async (
  admin: ReturnType<typeof adminClient>,
  tenant: string,
  allowedOrigins: string[],
) => {
  await admin("/api/v1/tracking-configs/from-template", {
    tenant_id: tenant,
    scenario_id: "vlog_feed",
    template_id: "video",
    name: "Vlog",
  });
  const publishable = (
    await admin("/api/v1/api-keys", {
      kind: "publishable",
      tenant_id: tenant,
      allowed_origins: allowedOrigins,
    })
  ).key;
  const service = (await admin("/api/v1/api-keys", { kind: "service" })).key;
  return { publishable, service };
};
