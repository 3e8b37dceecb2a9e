// Load generators that are cheaper than the paths they drive: ghz for gRPC and vegeta for HTTP (both Go),
// each in its own process, so that its CPU is measured beside the system under test's and a phase
// whose generator needed more CPU than the system is flagged instead of reported as the system's limit.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { cpuSecondsOfChildren } from "./cpu.ts";

const root = join(import.meta.dirname, "..");
const run = promisify(execFile);

/**
 * Runs a command through `sh`, which waits for it and then prints its own /proc stat line: the
 * children's CPU (cutime + cstime) there is the command's, all of its threads included, which
 * /proc/<pid> cannot give once the command has exited.
 */
const measuredCommand = async (command: string, args: string[]) => {
  const out = join(await mkdtemp(join(tmpdir(), "bench-generator-")), "out");
  try {
    const { stdout } = await run(
      "sh",
      ["-c", `"$@" > "$0" && read -r stat < /proc/$$/stat && echo "$stat"`, out, command, ...args],
      { maxBuffer: 1024 * 1024, timeout: 600_000 },
    );
    return { output: await readFile(out, "utf8"), cpuSeconds: cpuSecondsOfChildren(stdout.trim()) };
  } catch (error) {
    const { stderr, message } = error as Error & { stderr?: string };
    throw new Error(`${command.split("/").at(-1)} failed: ${stderr?.trim() || message}`);
  } finally {
    await rm(dirname(out), { recursive: true, force: true });
  }
};

export interface GeneratorRun {
  /** Calls answered with success. */
  ok: number;
  errors: number;
  seconds: number;
  calls_per_second: number;
  p50_ms: number;
  p99_ms: number;
  /** CPU seconds the generator process used. */
  cpu_seconds: number;
}

/** The Go tools the generators are, built once into the cache (scripts/go-tool.sh). */
const GO_TOOLS = {
  ghz: ["github.com/bojand/ghz/cmd/ghz", "v0.120.0"],
  vegeta: ["github.com/tsenart/vegeta/v12", "v12.13.0"],
} as const;
const built = new Map<keyof typeof GO_TOOLS, Promise<string>>();
const goTool = (name: keyof typeof GO_TOOLS): Promise<string> => {
  let path = built.get(name);
  if (path === undefined) {
    const script = join(root, "scripts", "go-tool.sh");
    path = run("sh", [script, name, ...GO_TOOLS[name]], { timeout: 600_000 }).then((r) => r.stdout.trim());
    built.set(name, path);
  }
  return path;
};

/**
 * ghz calling `method` (e.g. "recommender.v1.BehaviorService/TrackEvent") with `data` (JSON of the
 * request message): `calls` in all, at `rps` per second (0: as fast as it goes) from `concurrency`
 * workers over `connections` HTTP/2 connections. A count rather than a duration: at the end of a
 * duration ghz cancels the calls under way and counts them as errors.
 */
export const ghz = async (options: {
  target: string;
  method: string;
  data: unknown;
  metadata?: Record<string, string>;
  rps: number;
  calls: number;
  concurrency: number;
  connections?: number;
}): Promise<GeneratorRun> => {
  const args = [
    "--insecure",
    "--proto",
    join(root, "protos", "recommender", "v1", "behavior.proto"),
    "--import-paths",
    join(root, "protos"),
    "--call",
    options.method,
    "-d",
    JSON.stringify(options.data),
    "-m",
    JSON.stringify(options.metadata ?? {}),
    "-n",
    String(options.calls),
    "-c",
    String(options.concurrency),
    "--connections",
    String(options.connections ?? 1),
    "--format",
    "json",
  ];
  if (options.rps > 0) args.push("--rps", String(options.rps));
  const { output, cpuSeconds } = await measuredCommand(await goTool("ghz"), [...args, options.target]);
  const r = JSON.parse(output);
  const at = (p: number) =>
    +(
      (r.latencyDistribution?.find((d: { percentage: number }) => d.percentage === p)?.latency ?? 0) / 1e6
    ).toFixed(2);
  const ok = Number(r.statusCodeDistribution?.OK ?? 0);
  const seconds = Number(r.total) / 1e9;
  return {
    ok,
    errors: Number(r.count) - ok,
    seconds,
    calls_per_second: Math.round(ok / seconds),
    p50_ms: at(50),
    p99_ms: at(99),
    cpu_seconds: cpuSeconds,
  };
};

/**
 * vegeta POSTing `body` to `url` for `seconds`: at a constant `rps` (an open loop: requests go out when
 * due, however slowly earlier ones are answered, up to `workers` at once), or with `rps` 0 as fast as
 * `workers` keep-alive connections go (a closed loop).
 */
export const vegeta = async (options: {
  url: string;
  body: string;
  headers: Record<string, string>;
  rps: number;
  seconds: number;
  workers: number;
}): Promise<GeneratorRun> => {
  const dir = await mkdtemp(join(tmpdir(), "bench-vegeta-"));
  try {
    const bodyFile = join(dir, "body");
    const targets = join(dir, "targets");
    const results = join(dir, "results");
    await writeFile(bodyFile, options.body);
    const headers = Object.entries(options.headers).map(([k, v]) => `${k}: ${v}`);
    await writeFile(targets, [`POST ${options.url}`, ...headers, `@${bodyFile}`, ""].join("\n"));
    const bin = await goTool("vegeta");
    const args = ["attack", `-targets=${targets}`, `-duration=${options.seconds}s`, `-output=${results}`];
    // At most `workers` requests under way: vegeta would otherwise add workers while a server is slow.
    if (options.rps > 0) args.push(`-rate=${options.rps}/1s`, `-workers=${options.workers}`);
    else args.push("-rate=0");
    args.push(`-max-workers=${options.workers}`);
    const { cpuSeconds } = await measuredCommand(bin, args);
    const { stdout } = await run(bin, ["report", "-type=json", results], { maxBuffer: 16 * 1024 * 1024 });
    const r = JSON.parse(stdout);
    const ok = Object.entries(r.status_codes ?? {})
      .filter(([code]) => code.startsWith("2"))
      .reduce((sum, [, n]) => sum + Number(n), 0);
    // From the first request sent to the last answer received.
    const seconds = (Number(r.duration) + Number(r.wait)) / 1e9;
    return {
      ok,
      errors: Number(r.requests) - ok,
      seconds,
      calls_per_second: Math.round(ok / seconds),
      p50_ms: +(r.latencies["50th"] / 1e6).toFixed(2),
      p99_ms: +(r.latencies["99th"] / 1e6).toFixed(2),
      cpu_seconds: cpuSeconds,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};
