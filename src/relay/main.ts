// The relay process: settings from the environment, both listeners, graceful shutdown on SIGTERM/SIGINT.
// With RELAY_WORKERS > 1 this process is the primary of a fleet (src/relay/fleet.ts) and each worker
// runs the relay below on its own spool directory.
import cluster from "node:cluster";
import { pino } from "pino";
import { loadSettings } from "./config.ts";
import { orphanedSpools, runFleet, workerSpoolDir } from "./fleet.ts";
import { startRelay } from "./server.ts";

const settings = loadSettings(process.env);
const workers = settings.RELAY_WORKERS;

if (workers > 1 && cluster.isPrimary) {
  runFleet(workers, pino({ level: settings.LOG_LEVEL, base: { service: "relay-fleet" } }));
} else {
  const id = settings.RELAY_WORKER_ID;
  const relay = await startRelay(
    workers > 1 ? { ...settings, SPOOL_DIR: workerSpoolDir(settings.SPOOL_DIR, id) } : settings,
    { adopt: orphanedSpools(settings.SPOOL_DIR, id, workers) },
  ).catch((error: NodeJS.ErrnoException) => {
    // A taken port is a setup mistake, not a crash: one line that says which and what to do.
    if (error.code !== "EADDRINUSE" && !/EADDRINUSE|No address added/.test(String(error.message)))
      throw error;
    process.stderr.write(
      `relay: port ${settings.RELAY_HTTP_PORT} or ${settings.RELAY_GRPC_PORT} on ${settings.RELAY_HOST} is already in use (is npm run dev running?); set RELAY_HTTP_PORT and RELAY_GRPC_PORT to free ports\n`,
    );
    process.exit(1);
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`relay: ${signal}, flushing and stopping\n`);
    await relay.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}
