// CPU per event of each path beside its framework's floor, measured in the same run with the same
// generator at the same rate: the ratios the per-core goals are stated in. The generator runs in its
// own process (ghz, vegeta) and its CPU is reported beside the system's.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { workerdPid } from "../scripts/lib/workerd-edge.ts";
import { cpuSeconds } from "./cpu.ts";
import type { GeneratorRun } from "./generators.ts";
import { broken, HALF_SECONDS, STEP_SECONDS, type Step, type SteppedResult } from "./load.ts";

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

/**
 * The raw producer floor: `records` records written by @platformatic/kafka with the relay's settings,
 * in requests of 1,000, or one record per request at `perSecond`.
 */
export const producerFloor = async (
  brokers: string[],
  topic: string,
  records: number,
  cpuList?: string,
  perSecond = 0,
) => {
  const node = [process.execPath, join(root, "bench", "floor-server.ts"), "producer"];
  const [command, ...args] = cpuList === undefined ? node : ["taskset", "-c", cpuList, ...node];
  const { stdout } = await promisify(execFile)(
    command as string,
    [...args, brokers.join(","), topic, String(records), String(perSecond)],
    { timeout: 300_000 },
  );
  const r = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
  return {
    records_per_second: r.records_per_second as number,
    us_per_event: +((r.cpu_seconds * 1e6) / records).toFixed(1),
  };
};

/**
 * Like `steppedLoad`, but each phase is driven by an external generator at a fixed rate: offers
 * `startEventsPerSecond`, then 1.6× more each step until a step breaks, then half the sustained load
 * for `HALF_SECONDS`. Every step records the CPU per event of `processes` and of the generator.
 */
export const steppedExternal = async (
  drive: (callsPerSecond: number, seconds: number) => Promise<GeneratorRun>,
  processes: () => Record<string, number | undefined>,
  options: { startEventsPerSecond: number; eventsPerCall?: number; maxSteps?: number; onSample?: () => void },
): Promise<SteppedResult> => {
  const eventsPerCall = options.eventsPerCall ?? 1;
  const phase = async (eventsPerSecond: number, seconds: number): Promise<Step> => {
    // The generators take whole calls per second.
    const callsPerSecond = Math.max(1, Math.round(eventsPerSecond / eventsPerCall));
    const calls = callsPerSecond * seconds;
    const result = await cpuPhase(processes(), eventsPerCall, () => drive(callsPerSecond, seconds));
    return {
      offered_events_per_second: callsPerSecond * eventsPerCall,
      achieved_events_per_second: result.events_per_second,
      error_rate: +(result.errors / Math.max(calls, result.events / eventsPerCall + result.errors)).toFixed(
        4,
      ),
      p50_ms: result.p50_ms,
      p99_ms: result.p99_ms,
      cpu: {
        us_per_event: result.us_per_event,
        generator_us_per_event: result.generator_us_per_event,
        generator_bound: result.generator_bound,
      },
    };
  };
  const sampler = setInterval(() => options.onSample?.(), 250);
  const steps: Step[] = [];
  let sustained: Step | undefined;
  let at_half: Step | undefined;
  try {
    let rate = options.startEventsPerSecond;
    for (let i = 0; i < (options.maxSteps ?? 10); i++) {
      const step = await phase(rate, STEP_SECONDS);
      steps.push(step);
      if (broken(step)) break;
      sustained = step;
      rate = Math.round(rate * 1.6);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    if (sustained !== undefined) at_half = await phase(sustained.offered_events_per_second / 2, HALF_SECONDS);
  } finally {
    clearInterval(sampler);
  }
  return { steps, sustained, at_half };
};

/** bench/hono-worker.ts bundled and served by workerd (Miniflare) on `port`. */
export const startWorkerdFloor = async (port: number, upstream = "http://127.0.0.1:9/") => {
  const { build } = await import("esbuild");
  const { Miniflare } = await import("miniflare");
  const bundle = await build({
    entryPoints: [join(root, "bench", "hono-worker.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    write: false,
    minify: true,
  });
  const mf = new Miniflare({
    modules: true,
    script: bundle.outputFiles[0]?.text ?? "",
    compatibilityDate: "2026-07-01",
    host: "127.0.0.1",
    port,
    bindings: { UPSTREAM: upstream },
  });
  await mf.ready;
  return { pid: workerdPid, stop: () => mf.dispose() };
};
