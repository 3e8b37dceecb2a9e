import { spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pRetry, { AbortError } from "p-retry";
import { startWorkerdEdge, workerdPid } from "../../scripts/lib/workerd-edge.ts";

export { startWorkerdEdge, workerdPid };

import { uniqueName } from "./random.ts";
import { startTestRelay } from "./relay.ts";

/** A fresh EDGE_SECRET (the relay and the edge share it). */
export const newEdgeSecret = () => `edge_${uniqueName("secret")}_${uniqueName("x")}_${uniqueName("y")}`;

/**
 * Admin calls against a test relay, for the edge tests' setup. A store that misses its deadline on a
 * loaded machine answers 503 (retryable): retried as a client would, a few times. A retried write that
 * had landed after all answers 409, which is then what was asked for.
 */
export const adminClient =
  (relayUrl: string, token: string) =>
  (path: string, body: unknown, method: "POST" | "PUT" = "POST") =>
    pRetry(
      async (attempt) => {
        const response = await fetch(`${relayUrl}${path}`, {
          method,
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify(body),
        });
        if (response.status === 409 && attempt > 1) return (await response.json()) as { key: string };
        if (!response.ok) {
          const failure = new Error(`${path}: ${response.status} ${await response.text()}`);
          throw response.status === 503 ? failure : new AbortError(failure);
        }
        return (await response.json()) as { key: string };
      },
      { retries: 4, minTimeout: 250, randomize: true },
    );

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

/**
 * A relay with its admin API, a tenant ready for the edge (`edgeTenant`), and the edge in workerd in
 * front of it: the set-up of every test that goes through both.
 */
export const startRelayAndEdge = async (options: {
  brokers: string[];
  tenant: string;
  edgePort: number;
  relayKeys?: string[];
  relayEnv?: Record<string, string>;
  edgeVars?: Record<string, string>;
}) => {
  const adminToken = `admin_${uniqueName("t")}`;
  const edgeSecret = newEdgeSecret();
  const relay = await startTestRelay(options.brokers, options.relayKeys ?? [], {
    env: { ADMIN_TOKEN: adminToken, EDGE_SECRET: edgeSecret, ...options.relayEnv },
  });
  const admin = adminClient(relay.httpUrl, adminToken);
  const keys = await edgeTenant(admin, options.tenant, []);
  const edge = await startWorkerdEdge({
    relayUrl: relay.httpUrl,
    edgeSecret,
    port: options.edgePort,
    vars: options.edgeVars,
  });
  return {
    relay,
    edge,
    admin,
    adminToken,
    edgeSecret,
    ...keys,
    close: async () => {
      await edge.dispose();
      await relay.close();
    },
  };
};

const root = join(import.meta.dirname, "..", "..");

/** workers/deno.ts in real Deno on a fixed port, with its own KV file; resolves once it listens. */
export const startDenoEdge = async (options: {
  relayUrl: string;
  edgeSecret: string;
  port: number;
  vars?: Record<string, string>;
}) => {
  const deno = spawn(
    join(root, "node_modules", ".bin", "deno"),
    [
      "run",
      "--unstable-kv",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      join(root, "workers", "deno.ts"),
    ],
    {
      cwd: root,
      env: {
        ...process.env,
        RELAY_URL: options.relayUrl,
        EDGE_SECRET: options.edgeSecret,
        PORT: String(options.port),
        KV_PATH: join(await mkdtemp(join(tmpdir(), "deno-kv-")), "kv.sqlite"),
        DENO_NO_UPDATE_CHECK: "1",
        ...options.vars,
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  await new Promise<void>((resolve, reject) => {
    deno.stdout?.on("data", (chunk: Buffer) => chunk.toString().includes("listening") && resolve());
    deno.once("exit", (code) => reject(new Error(`deno exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${options.port}`,
    close: async () => {
      if (deno.exitCode !== null) return;
      const exited = new Promise((resolve) => deno.once("exit", resolve));
      deno.kill("SIGTERM");
      await exited;
    },
  };
};
