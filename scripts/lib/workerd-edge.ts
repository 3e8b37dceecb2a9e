import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
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
  /** The relay's EDGE_SECRET. */
  edgeSecret: string;
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
    // As wrangler.toml declares them.
    queueProducers: {
      EVENTS: { queueName: "behavior-edge-events" },
      DEAD_LETTERS: { queueName: "behavior-edge-events-dlq" },
    },
    queueConsumers: {
      "behavior-edge-events": {
        maxBatchTimeout: 1,
        maxRetries: 100,
        deadLetterQueue: "behavior-edge-events-dlq",
      },
      "behavior-edge-events-dlq": { maxBatchTimeout: 1, maxRetries: 100 },
    },
    bindings: {
      RELAY_URL: options.relayUrl,
      EDGE_SECRET: options.edgeSecret,
      ...options.vars,
    },
    host: "127.0.0.1",
    port: options.port,
  });
  await mf.ready;
  return mf;
};

const commOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
};

/** The workerd process Miniflare started for this process (Linux /proc), to read its memory. */
export const workerdPid = (): number | undefined =>
  readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .find((pid) => {
      try {
        const parent = Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ")[1]);
        return parent === process.pid && commOf(pid) === "workerd";
      } catch {
        return false;
      }
    });
