import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The fault-injection files and the README walk-through take minutes each, mostly waiting: started
 * first, they run beside the other files instead of after them (a fresh clone has no timing cache).
 */
class SlowFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]) {
    const sorted = await super.sort(files);
    const slow = (file: TestSpecification) => /(faults\.\w+|readme)\.test\.ts$/.test(file.moduleId);
    return [...sorted.filter(slow), ...sorted.filter((file) => !slow(file))];
  }
}

export default defineConfig({
  test: {
    // Integration files mostly wait (for brokers to restart, outages to pass, processes to start), so
    // four files run at once even on two cores; each uses its own tenants, topics, ports and brokers.
    maxWorkers: 4,
    sequence: { sequencer: SlowFilesFirst },
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
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
