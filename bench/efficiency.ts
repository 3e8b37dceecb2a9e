// CPU per event of each path beside its framework's floor, measured in the same run with the same
// generator at the same rate: the ratios the per-core goals are stated in. The generator runs in its
// own process (ghz, autocannon) and its CPU is reported beside the system's.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { cpuSeconds } from "./cpu.ts";
import type { GeneratorRun } from "./generators.ts";

const root = join(import.meta.dirname, "..");

export interface CpuPhase {
  /** Events acknowledged in the phase (calls × events per call). */
  events: number;
  events_per_second: number;
  errors: number;
  p50_ms: number;
  p99_ms: number;
  /** CPU microseconds per acknowledged event of each measured process. */
  us_per_event: Record<string, number>;
  generator_us_per_event: number;
  /** The generator needed more CPU than the system under test: the phase measures the generator. */
  generator_bound: boolean;
}

/** Runs `drive` and charges the CPU each of `processes` used meanwhile to the events it carried. */
export const cpuPhase = async (
  processes: Record<string, number | undefined>,
  eventsPerCall: number,
  drive: () => Promise<GeneratorRun>,
): Promise<CpuPhase> => {
  const pids = Object.entries(processes).filter((e): e is [string, number] => e[1] !== undefined);
  const before = pids.map(([, pid]) => cpuSeconds(pid));
  const run = await drive();
  const used = pids.map(([name, pid], i) => [name, cpuSeconds(pid) - (before[i] ?? 0)] as const);
  const events = Math.max(1, run.ok * eventsPerCall);
  const perEvent = (seconds: number) => +((seconds * 1e6) / events).toFixed(1);
  const system = used.reduce((sum, [, s]) => sum + s, 0);
  return {
    events,
    events_per_second: Math.round(events / run.seconds),
    errors: run.errors,
    p50_ms: run.p50_ms,
    p99_ms: run.p99_ms,
    us_per_event: Object.fromEntries(used.map(([name, s]) => [name, perEvent(s)])),
    generator_us_per_event: perEvent(run.cpu_seconds),
    generator_bound: run.cpu_seconds > system,
  };
};

const stopChild = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });

/** Waits until something accepts TCP connections on `port`. */
const waitForPort = async (port: number, timeoutMs = 30_000) => {
  const { connect } = await import("node:net");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nothing listens on ${port}`);
};

/** One of the bare servers of bench/floor-server.ts in its own process, pinned like the relay. */
export const startFloor = async (
  kind: "grpc-js" | "connect" | "hono-node",
  port: number,
  cpuList?: string,
) => {
  const node = [process.execPath, join(root, "bench", "floor-server.ts"), kind, String(port)];
  const [command, ...args] = cpuList === undefined ? node : ["taskset", "-c", cpuList, ...node];
  const child = spawn(command as string, args, { stdio: "inherit" });
  await waitForPort(port);
  return { pid: () => child.pid, stop: () => stopChild(child) };
};

/** The raw producer floor: `records` records written by @platformatic/kafka with the relay's settings. */
export const producerFloor = async (brokers: string[], topic: string, records: number, cpuList?: string) => {
  const node = [process.execPath, join(root, "bench", "floor-server.ts"), "producer"];
  const [command, ...args] = cpuList === undefined ? node : ["taskset", "-c", cpuList, ...node];
  const { stdout } = await promisify(execFile)(
    command as string,
    [...args, brokers.join(","), topic, String(records)],
    { timeout: 300_000 },
  );
  const r = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
  return {
    records_per_second: r.records_per_second as number,
    us_per_event: +((r.cpu_seconds * 1e6) / records).toFixed(1),
  };
};
