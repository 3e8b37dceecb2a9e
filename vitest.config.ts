import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

// The suite's brokers (scripts/kafka.sh, inherited by the setup, the workers and what they start)
// run without the optimising JIT: their many starts and restarts take about half the CPU, and test
// load never needs a fast broker.
process.env.KAFKA_JVM_OPTS ??= "-XX:TieredStopAtLevel=1";

// The temporary files of a run (spools, builds, brokers' data, keys) go under one directory of its own,
// inherited by the workers and what they start, and removed when the run ends: repeated runs left
// thousands of directories in /tmp.
const runTmp = mkdtempSync(join(tmpdir(), "behavior-ingest-test-"));
process.env.TMPDIR = runTmp;
process.on("exit", () => rmSync(runTmp, { recursive: true, force: true }));

/**
 * The longest files, longest first: each takes minutes, mostly waiting for brokers and outages, so
 * started first they run beside the other files instead of after them; the unit files, seconds in
 * all, come next, so none of them is left for the end. A fresh clone has no timing cache to order by.
 */
const LONGEST = ["faults.cluster", "faults.broker", "faults.services", "readme", "sdk.kafka-tracker"];
const rank = (file: TestSpecification) => {
  const found = LONGEST.findIndex((name) => file.moduleId.endsWith(`/${name}.test.ts`));
  if (found !== -1) return found;
  return file.project.name === "unit" ? LONGEST.length : LONGEST.length + 1;
};
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]) {
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    // Two files per core: integration files mostly wait (for a broker, a process, a condition), which
    // the second file fills. More starved the timers of time-sensitive tests (five files on two cores
    // made them flaky). Each file uses its own tenants, topics, ports and brokers.
    maxWorkers: availableParallelism() * 2,
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          // CPU-bound (property tests run hundreds of cases) beside the integration files on two
          // cores: the limit is for a hung test, not a slow machine.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // Starts Kafka and FerretDB when they are not reachable (or uses KAFKA_BROKERS / MONGODB_URI).
          globalSetup: ["test/setup/services.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: ["test/setup/services.ts"],
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
