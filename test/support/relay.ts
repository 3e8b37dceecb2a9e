import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { inject } from "vitest";
import { loadSettings } from "../../src/relay/config.ts";
import type { ConfigSource } from "../../src/relay/config-source.ts";
import { type RunningRelay, startRelay } from "../../src/relay/server.ts";
import { uniqueName } from "./random.ts";

/** A relay on free ports with its own spool directory, writing to the test brokers. */
export const startTestRelay = async (
  brokers: string[],
  keys: string[],
  options: { configs?: ConfigSource; env?: Record<string, string> } = {},
): Promise<RunningRelay & { spoolDir: string; database: string }> => {
  const database = uniqueName("relay");
  const spoolDir = await mkdtemp(join(tmpdir(), "relay-spool-"));
  const settings = loadSettings({
    RELAY_HTTP_PORT: "0",
    RELAY_GRPC_PORT: "0",
    KAFKA_BROKERS: brokers.join(","),
    TOPIC_PARTITIONS: "3",
    SPOOL_DIR: spoolDir,
    RELAY_API_KEYS: keys.join(","),
    MONGODB_URI: inject("mongodbUri"),
    MONGODB_DB: database,
    ...options.env,
  });
  // TEST_RELAY_LOG=warn shows the relay's log when a test fails for a reason its answers do not tell.
  const relay = await startRelay(settings, {
    configs: options.configs,
    log: pino({ level: process.env.TEST_RELAY_LOG ?? "silent" }),
  });
  return { ...relay, spoolDir, database };
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The relay as its own process, run as in production (scripts/relay.sh's heap bound), on the fixed ports of `env`
 * (RELAY_HTTP_PORT, RELAY_GRPC_PORT): to be SIGKILLed and restarted, or to have its memory read.
 */
export const relayProcess = (env: Record<string, string>) => {
  const start = (): ChildProcess =>
    // The heap bound of scripts/relay.sh, as in production.
    spawn(
      process.execPath,
      ["--max-old-space-size=256", join(import.meta.dirname, "..", "..", "src", "relay", "main.ts")],
      {
        env: { ...process.env, LOG_LEVEL: "warn", TOPIC_PARTITIONS: "3", ...env },
        stdio: "inherit",
      },
    );
  const url = `http://127.0.0.1:${env.RELAY_HTTP_PORT}`;
  let child = start();
  const ready = async () => {
    const deadline = Date.now() + 60_000;
    while (
      !(await fetch(`${url}/livez`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline) throw new Error("the relay did not start");
      await sleep(200);
    }
  };
  const stop = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    await exited;
  };
  return {
    url,
    grpcUrl: `http://127.0.0.1:${env.RELAY_GRPC_PORT}`,
    pid: () => child.pid as number,
    ready,
    kill: () => stop("SIGKILL"),
    restart: async () => {
      child = start();
      await ready();
    },
    close: () => stop("SIGTERM"),
  };
};

/** The peak resident memory of a process so far (VmHWM), in MB. */
export const peakRssMb = (pid: number): number => {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (match === null) throw new Error(`no VmHWM for process ${pid}`);
  return Number(match[1]) / 1024;
};
