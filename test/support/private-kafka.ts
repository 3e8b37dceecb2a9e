import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const script = join(import.meta.dirname, "..", "..", "scripts", "kafka.sh");

/**
 * A cluster of the test's own (one node, or three), on its own ports and data directory, that fault
 * tests may stop, kill and pause without disturbing the shared one (or a cluster given by KAFKA_BROKERS).
 * `saslUsers` (`admin:secret,relay:secret`) puts it behind SASL/PLAIN and Kafka's StandardAuthorizer.
 */
export const privateKafka = async (port: number, options: { nodes?: 1 | 3; saslUsers?: string } = {}) => {
  const nodes = options.nodes ?? 1;
  const dir = await mkdtemp(join(tmpdir(), "kafka-private-"));
  const env = {
    ...process.env,
    KAFKA_NODES: String(nodes),
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(port + 1),
    BEHAVIOR_INGEST_DEV_DIR: dir,
    KAFKA_DATA_DIR: join(dir, "kafka"),
    ...(options.saslUsers ? { KAFKA_SASL_USERS: options.saslUsers } : {}),
  };
  const runWithin = (timeout: number, ...args: string[]) =>
    promisify(execFile)("bash", [script, ...args], { env, timeout });
  const run = (...args: string[]) => runWithin(240_000, ...args);
  const brokers = Array.from({ length: nodes }, (_, i) => `127.0.0.1:${port + i * 100}`);
  const nodeDir = (n: number) => (nodes === 1 ? join(dir, "kafka") : join(dir, "kafka", `node-${n}`));
  return {
    brokers,
    start: () => run("start"),
    stop: () => run("stop"),
    /** A node's JVM, for faults a graceful stop does not show: SIGKILL, SIGSTOP. */
    pid: async (node = 1) => Number((await readFile(join(nodeDir(node), "kafka.pid"), "utf8")).trim()),
    /** `start-node`, `stop-node`, `kill-node`, `pause-node` or `resume-node` of scripts/kafka.sh. */
    node: (command: "start-node" | "stop-node" | "kill-node" | "pause-node" | "resume-node", n: number) =>
      run(command, String(n)),
    /**
     * The node that is the active KRaft controller (Kafka's MetadataQuorumCommand), asked of whichever
     * node answers (one may be down), within 30 s.
     */
    activeController: async () => {
      const { stdout } = await runWithin(
        30_000,
        "tool",
        "org.apache.kafka.tools.MetadataQuorumCommand",
        "--bootstrap-server",
        brokers.join(","),
        "describe",
        "--status",
      );
      const leader = /LeaderId:\s+(\d+)/.exec(stdout)?.[1];
      if (leader === undefined) throw new Error(`no quorum leader in: ${stdout}`);
      return Number(leader);
    },
    remove: async () => {
      await run("stop");
      await rm(dir, { recursive: true, force: true });
    },
  };
};
