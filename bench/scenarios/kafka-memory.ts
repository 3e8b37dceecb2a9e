// Kafka's JVM (the broker scripts/kafka.sh started), the stack's largest process, sampled all run long.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { memoryWatch } from "../stack.ts";

/** Starts sampling; the function returned stops and gives the idle and peak MB, or none for a broker not ours. */
export const watchKafkaMemory = () => {
  const root = join(import.meta.dirname, "..", "..");
  const pidFile = join(process.env.BEHAVIOR_INGEST_DEV_DIR ?? join(root, ".dev"), "kafka", "kafka.pid");
  const watch = memoryWatch(() => {
    try {
      return Number(readFileSync(pidFile, "utf8").trim()) || undefined;
    } catch {
      return undefined; // a broker of KAFKA_BROKERS that this machine did not start: not measured
    }
  });
  const idle = watch.now();
  const sampling = setInterval(watch.sample, 500);
  return () => {
    clearInterval(sampling);
    return idle > 0 ? { idle_mb: idle, peak_mb: watch.peak } : undefined;
  };
};
