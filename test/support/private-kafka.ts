import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const script = join(import.meta.dirname, "..", "..", "scripts", "kafka.sh");

/**
 * A broker of the test's own, on its own ports and data directory, that fault tests may stop and
 * start without disturbing the shared one (or a cluster given by KAFKA_BROKERS).
 */
export const privateKafka = async (port: number) => {
  const dir = await mkdtemp(join(tmpdir(), "kafka-private-"));
  const env = {
    ...process.env,
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(port + 1),
    BEHAVIOR_INGEST_DEV_DIR: dir,
  };
  const run = (command: string) => promisify(execFile)("bash", [script, command], { env, timeout: 180_000 });
  return {
    brokers: [`127.0.0.1:${port}`],
    start: () => run("start"),
    stop: () => run("stop"),
    /** The broker's JVM, for faults a graceful stop does not show: SIGKILL, SIGSTOP. */
    pid: async () => Number((await readFile(join(dir, "kafka", "kafka.pid"), "utf8")).trim()),
    remove: async () => {
      await run("stop");
      await rm(dir, { recursive: true, force: true });
    },
  };
};
