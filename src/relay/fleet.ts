import cluster from "node:cluster";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";

/**
 * A relay fleet on one host: `RELAY_WORKERS` processes sharing the ports (node:cluster), each with its
 * own spool directory `SPOOL_DIR/worker-N`. A worker that dies is replaced by one with the same number,
 * which replays that worker's spool; SIGTERM stops every worker, each draining as a single relay does.
 */

/** The spool directory of worker `id` under the fleet's SPOOL_DIR. */
export const workerSpoolDir = (spoolRoot: string, id: number) => join(spoolRoot, `worker-${id}`);

/**
 * The worker spools no live worker owns (a fleet that had more workers before), for worker `id` of
 * `workers` to deliver: worker-j goes to the worker j maps onto. A single relay (no fleet) adopts them all.
 */
export const orphanedSpools = (spoolRoot: string, id: number, workers: number): string[] => {
  let names: string[];
  try {
    names = readdirSync(spoolRoot);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return names
    .map((name) => /^worker-(\d+)$/.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .filter((j) => (workers === 1 ? true : j > workers && ((j - 1) % workers) + 1 === id))
    .map((j) => workerSpoolDir(spoolRoot, j));
};

/** The primary of a fleet: forks the workers, replaces those that die, stops them all on SIGTERM. */
export const runFleet = (workers: number, log: Logger) => {
  let stopping = false;
  const fork = (id: number) => {
    const worker = cluster.fork({ RELAY_WORKER_ID: String(id) });
    worker.once("exit", (code, signal) => {
      if (stopping) return;
      log.error({ worker: id, code, signal }, "a relay worker died; starting a new one on its spool");
      fork(id);
    });
  };
  for (let id = 1; id <= workers; id++) fork(id);
  log.info({ workers }, "relay fleet started");
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping the relay fleet: every worker drains");
    const exits = Object.values(cluster.workers ?? {}).map(
      (worker) =>
        new Promise((resolve) => {
          if (worker === undefined || worker.isDead()) return resolve(undefined);
          worker.once("exit", resolve);
          worker.process.kill("SIGTERM");
        }),
    );
    await Promise.all(exits);
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
};
