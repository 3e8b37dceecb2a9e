// Global setup of the integration tests: real Kafka and a real MongoDB-wire server.
// KAFKA_BROKERS / MONGODB_URI point the suite at existing servers; otherwise the local ones are used
// when they already answer, or started with the project's scripts and stopped again afterwards.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";
import { answers } from "../../scripts/lib/port.ts";

declare module "vitest" {
  export interface ProvidedContext {
    kafkaBrokers: string[];
    mongodbUri: string;
  }
}

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");

/** Runs scripts/NAME.sh COMMAND, letting its progress through to the terminal. */
const script = async (name: string, command: "start" | "stop") => {
  const { stderr } = await run("bash", [join(root, "scripts", `${name}.sh`), command], {
    cwd: root,
    timeout: 15 * 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  process.stderr.write(stderr);
};

const started: string[] = [];

const ensure = async (name: string, port: number) => {
  if (await answers("127.0.0.1", port)) return;
  await script(name, "start");
  started.push(name);
};

export async function setup(project: TestProject): Promise<void> {
  const kafkaBrokers = process.env.KAFKA_BROKERS?.split(",").map((b) => b.trim());
  const mongodbUri = process.env.MONGODB_URI;
  await Promise.all([
    kafkaBrokers ? undefined : ensure("kafka", 9092),
    mongodbUri ? undefined : ensure("ferretdb", 27017),
  ]);
  project.provide("kafkaBrokers", kafkaBrokers ?? ["127.0.0.1:9092"]);
  project.provide("mongodbUri", mongodbUri ?? "mongodb://127.0.0.1:27017");
}

export async function teardown(): Promise<void> {
  await Promise.all(started.map((name) => script(name, "stop")));
}
