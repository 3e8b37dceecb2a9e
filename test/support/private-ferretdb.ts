import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const script = join(import.meta.dirname, "..", "..", "scripts", "ferretdb.sh");

/** A MongoDB-wire server of the test's own, on its own port and data, that the test may stop and start. */
export const privateFerretDb = async (port: number) => {
  const dir = await mkdtemp(join(tmpdir(), "ferretdb-private-"));
  const env = { ...process.env, MONGODB_PORT: String(port), BEHAVIOR_INGEST_DEV_DIR: dir };
  const run = (command: string) => promisify(execFile)("bash", [script, command], { env, timeout: 600_000 });
  return {
    uri: `mongodb://127.0.0.1:${port}`,
    start: () => run("start"),
    stop: () => run("stop"),
    remove: async () => {
      await run("stop");
      await rm(dir, { recursive: true, force: true });
    },
  };
};
