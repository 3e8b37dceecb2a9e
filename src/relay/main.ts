// The relay process: settings from the environment, both listeners, graceful shutdown on SIGTERM/SIGINT.
import { loadSettings } from "./config.ts";
import { startRelay } from "./server.ts";

const relay = await startRelay(loadSettings(process.env));

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
