import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const script = join(import.meta.dirname, "..", "..", "scripts", "ferretdb.sh");

/** A MongoDB-wire server of the test's own, on its own port and data, that the test may stop and start. */
export const privateFerretDb = async (port: number) => {
  const dir = await mkdtemp(join(tmpdir(), "ferretdb-private-"));
  const env = { ...process.env, MONGODB_PORT: String(port), BEHAVIOR_INGEST_DEV_DIR: dir };
  const run = (command: string) => promisify(execFile)("bash", [script, command], { env, timeout: 600_000 });
  const signal = async (name: "SIGSTOP" | "SIGCONT") =>
    process.kill(Number(await readFile(join(dir, "ferretdb", "ferretdb.pid"), "utf8")), name);
  return {
    uri: `mongodb://127.0.0.1:${port}`,
    start: () => run("start"),
    stop: () => run("stop"),
    /** SIGSTOP: the server holds its connections and answers nothing, as a locked or overloaded store does. */
    pause: () => signal("SIGSTOP"),
    resume: () => signal("SIGCONT"),
    remove: async () => {
      await run("stop");
      await rm(dir, { recursive: true, force: true });
    },
  };
};
