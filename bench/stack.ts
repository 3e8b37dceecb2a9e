// The components under test, each in its own process as in production, and their resident memory.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startWorkerdEdge, workerdPid } from "../scripts/lib/workerd-edge.ts";
import { waitForHttp } from "./load.ts";

const root = join(import.meta.dirname, "..");

export const rssMb = (pid: number): number => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
  } catch {
    return 0;
  }
};

/** Peak of a process's resident memory, sampled whenever `sample` is called. */
export const memoryWatch = (pid: () => number | undefined) => {
  let peak = 0;
  return {
    sample: () => {
      const id = pid();
      if (id !== undefined) peak = Math.max(peak, rssMb(id));
    },
    now: () => {
      const id = pid();
      return id === undefined ? 0 : rssMb(id);
    },
    get peak() {
      return peak;
    },
  };
};

const stopChild = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });

/** The relay as `npm run relay` runs it: compiled, with a bounded heap; on the CPUs of `cpuList` if given. */
export const startRelay = async (env: Record<string, string>, cpuList?: string) => {
  const relay = ["sh", join(root, "scripts", "relay.sh")];
  const [command, ...args] = cpuList === undefined ? relay : ["taskset", "-c", cpuList, ...relay];
  const child = spawn(command as string, args, {
    env: {
      ...process.env,
      RELAY_HTTP_PORT: "18181",
      RELAY_GRPC_PORT: "15151",
      SPOOL_DIR: await mkdtemp(join(tmpdir(), "bench-spool-")),
      LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  await waitForHttp("http://127.0.0.1:18181/livez", 120_000);
  // relay.sh compiles, then execs node in its own place: once it answers, the child is the relay.
  const nodePid = () => child.pid;
  return {
    httpUrl: "http://127.0.0.1:18181",
    grpcUrl: "http://127.0.0.1:15151",
    pid: nodePid,
    memory: memoryWatch(nodePid),
    stop: () => stopChild(child),
  };
};

/** The Cloudflare entry point as wrangler bundles it, in workerd (Miniflare), forwarding to `relayUrl`. */
export const startEdge = async (relayUrl: string, edgeSecret: string) => {
  const mf = await startWorkerdEdge({ relayUrl, edgeSecret, port: 18789 });
  return {
    url: "http://127.0.0.1:18789",
    pid: workerdPid,
    memory: memoryWatch(workerdPid),
    stop: () => mf.dispose(),
  };
};

/** The HTTP ceiling: a bare Node server in its own process that reads the body and answers 200. */
export const startBareHttp = async () => {
  const child = spawn(
    process.execPath,
    [
      "-e",
      `require("node:http").createServer((q, s) => { q.resume(); q.on("end", () => s.end('{"success":true}')); }).listen(18484, "127.0.0.1")`,
    ],
    { stdio: "inherit" },
  );
  await waitForHttp("http://127.0.0.1:18484/");
  return { url: "http://127.0.0.1:18484", pid: () => child.pid, stop: () => stopChild(child) };
};
