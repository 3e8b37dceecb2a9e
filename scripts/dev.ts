// `npm run dev`: the whole local stack. Starts Kafka and FerretDB (unless they already answer), the relay
// and the edge (`wrangler dev`), creates the demo tenant `mymx` with its `vlog_feed` video config and
// keys, prints the URLs and credentials (also in .dev/credentials.json), and stops what it started on
// Ctrl-C. Logs of every service are in .dev/logs/.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startDemoPage } from "./demo/server.ts";
import { answers } from "./lib/port.ts";

const root = join(import.meta.dirname, "..");
const dev = join(root, ".dev");
const logs = join(dev, "logs");
mkdirSync(logs, { recursive: true });

/** `KAFKA_NODES=3 npm run dev` runs the stack on a local cluster of three brokers (scripts/kafka.sh). */
const KAFKA_BROKERS = Array.from(
  { length: process.env.KAFKA_NODES === "3" ? 3 : 1 },
  (_, i) => `127.0.0.1:${9092 + i * 100}`,
).join(",");
/** The stack's ports; each can be moved (`RELAY_HTTP_PORT=18080 npm run dev`) to run a second stack beside one. */
const port = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    console.error(`error: ${name} must be a port number, not "${process.env[name]}"`);
    process.exit(2);
  }
  return value;
};
const RELAY_HTTP_PORT = port("RELAY_HTTP_PORT", 8080);
const RELAY_GRPC_PORT = port("RELAY_GRPC_PORT", 50051);
const EDGE_PORT = port("EDGE_PORT", 8787);
const DEMO_PORT = port("DEMO_PORT", 8090);
const RELAY = `http://127.0.0.1:${RELAY_HTTP_PORT}`;
const EDGE = `http://127.0.0.1:${EDGE_PORT}`;
const DEMO = `http://127.0.0.1:${DEMO_PORT}`;
const say = (line: string) => console.log(line);

const waitFor = async (what: string, url: string, seconds: number) => {
  for (let i = 0; i < seconds * 4; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${what} did not answer at ${url} within ${seconds}s; see ${logs}`);
};

/** Credentials survive restarts: the same tokens and keys on every run. */
interface Credentials {
  admin_token: string;
  /** The EDGE_SECRET the relay and the edge share; missing in files from before it existed. */
  edge_secret?: string;
  publishable_key?: string;
  service_key?: string;
}
const credentialsFile = join(dev, "credentials.json");
const credentials: Credentials = existsSync(credentialsFile)
  ? JSON.parse(readFileSync(credentialsFile, "utf8"))
  : {
      admin_token: `admin_${randomBytes(16).toString("hex")}`,
    };
credentials.edge_secret ??= randomBytes(32).toString("hex");

const started: string[] = [];
const children: ChildProcess[] = [];

/** Runs scripts/NAME.sh; its progress goes to its log, and only a failure's output to the terminal. */
const service = (name: "kafka" | "ferretdb", command: "start" | "stop") => {
  try {
    execFileSync("bash", [join(root, "scripts", `${name}.sh`), command], { stdio: "pipe" });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`${name} ${command} failed:\n${stdout ?? ""}${stderr ?? ""}`);
  }
};
/** One line per service as it comes up, aligned. */
const up = (name: string, where: string) => say(`  ${name.padEnd(11)}${where}`);

const run = (name: string, command: string, args: string[], env: Record<string, string>) => {
  const log = openSync(join(logs, `${name}.log`), "a");
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", log, log],
  });
  child.once("exit", (code) => {
    if (!stopping) say(`${name} exited (${code}); see ${join(logs, `${name}.log`)}`);
  });
  children.push(child);
  return child;
};

let demoPage: Awaited<ReturnType<typeof startDemoPage>> | undefined;
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  say("\nstopping…");
  await demoPage?.close();
  for (const child of children.reverse()) {
    child.kill("SIGTERM");
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once("exit", resolve)));
  }
  for (const name of started.reverse()) {
    try {
      service(name as "kafka" | "ferretdb", "stop");
    } catch (error) {
      say((error as Error).message);
    }
  }
  say("stopped");
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());

try {
  for (const [port, what] of [
    [RELAY_HTTP_PORT, "the relay (HTTP)"],
    [RELAY_GRPC_PORT, "the relay (gRPC)"],
    [EDGE_PORT, "the edge"],
    [DEMO_PORT, "the demo page"],
  ] as const) {
    if (await answers("127.0.0.1", port))
      throw new Error(`port ${port} for ${what} is already in use; stop what runs there first`);
  }
  say(`starting behavior-ingest (logs in ${logs})`);
  for (const [name, port, shown, where] of [
    ["kafka", 9092, "kafka", KAFKA_BROKERS],
    ["ferretdb", 27017, "mongodb", "127.0.0.1:27017"],
  ] as const) {
    if (await answers("127.0.0.1", port)) up(shown, `${where} (already running)`);
    else {
      service(name, "start");
      started.push(name);
      up(shown, where);
    }
  }

  execFileSync(join(root, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.build.json"], {
    cwd: root,
    stdio: "inherit",
  });
  run("relay", process.execPath, ["--max-old-space-size=1024", "dist/relay/main.js"], {
    KAFKA_BROKERS,
    ADMIN_TOKEN: credentials.admin_token,
    EDGE_SECRET: credentials.edge_secret,
    EDGE_PUSH_URLS: EDGE,
    RELAY_HTTP_PORT: String(RELAY_HTTP_PORT),
    RELAY_GRPC_PORT: String(RELAY_GRPC_PORT),
    SPOOL_DIR: join(dev, "spool"),
  });
  await waitFor("the relay", `${RELAY}/livez`, 60);
  up("relay", `${RELAY}  (REST, Connect; docs ${RELAY}/api/v1/docs)   gRPC 127.0.0.1:${RELAY_GRPC_PORT}`);

  // wrangler dev reads the edge's secrets, and values that override wrangler.toml, from .dev.vars (git-ignored).
  writeFileSync(join(root, ".dev.vars"), `EDGE_SECRET=${credentials.edge_secret}\nRELAY_URL=${RELAY}\n`, {
    mode: 0o600,
  });

  run(
    "edge",
    join(root, "node_modules", ".bin", "wrangler"),
    ["dev", "--ip", "127.0.0.1", "--port", String(EDGE_PORT)],
    {
      WRANGLER_SEND_METRICS: "false",
    },
  );
  await waitFor("the edge", `${EDGE}/api/v1/behaviors/health`, 120);
  up("edge", EDGE);
  // The demo tenant once the edge is up, so the relay's pushes of it reach the edge.
  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${RELAY}${path}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${credentials.admin_token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const demo = await admin("POST", "/api/v1/tracking-configs/from-template", {
    tenant_id: "mymx",
    scenario_id: "vlog_feed",
    template_id: "video",
    name: "Vlog feed",
  });
  if (demo.status !== 201 && demo.status !== 409)
    throw new Error(`creating the demo config failed: ${JSON.stringify(demo.body)}`);
  if (credentials.publishable_key === undefined || credentials.service_key === undefined) {
    const pk = await admin("POST", "/api/v1/api-keys", {
      kind: "publishable",
      tenant_id: "mymx",
      name: "demo page",
      allowed_origins: [DEMO, `http://localhost:${DEMO_PORT}`],
    });
    const svc = await admin("POST", "/api/v1/api-keys", { kind: "service", name: "local services" });
    credentials.publishable_key = pk.body.key as string;
    credentials.service_key = svc.body.key as string;
  }
  writeFileSync(credentialsFile, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  demoPage = await startDemoPage({
    port: DEMO_PORT,
    edge: EDGE,
    key: credentials.publishable_key,
    tenant: "mymx",
    scenario: "vlog_feed",
    live: { relay: RELAY, token: credentials.admin_token },
  });

  up(
    "demo page",
    `${DEMO}  (a feed that tracks impressions, clicks and plays, and shows them land in Kafka)`,
  );
  say(`
behavior-ingest is running; Ctrl-C stops everything.

  credentials for another terminal (also in .dev/credentials.json):
    export ADMIN_TOKEN=${credentials.admin_token}
    export PUBLISHABLE_KEY=${credentials.publishable_key}   # tenant mymx, for the edge and browsers
    export SERVICE_KEY=${credentials.service_key}   # internal services, any tenant

  then try the calls in the README's "Quick start".
`);
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  await stop();
}
