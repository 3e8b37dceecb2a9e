import { healthAnswer } from "../core/index.ts";
import type { RecordSink } from "../kafka/records.ts";
import type { RelayMetrics } from "./metrics.ts";

/** The health answer, and whether events can be acknowledged now (readiness; not in the answer). */
export type HealthReport = ReturnType<typeof healthAnswer> & { accepting: boolean; failingTopics?: number };

/** The relay's health from its counts and its write path (`GET …/health`, `/readyz`, the RPC Health). */
export const healthReport = async (metrics: RelayMetrics, sink: RecordSink): Promise<HealthReport> => {
  const value = async (metric: { get(): Promise<{ values: { value: number }[] }> }) =>
    (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
  const [total, accepted, kafkaSuccess, kafkaFailed, rejected, warnings] = await Promise.all([
    value(metrics.received),
    value(metrics.accepted),
    value(metrics.kafkaSuccess),
    value(metrics.kafkaFailures),
    value(metrics.rejected),
    value(metrics.warnings),
  ]);
  return {
    ...healthAnswer({
      kafkaAvailable: sink.kafkaAvailable,
      received: total,
      accepted,
      stored: kafkaSuccess,
      failed: kafkaFailed,
      refused: rejected,
      warned: warnings,
    }),
    accepting: sink.accepting,
    failingTopics: sink.failingTopics,
  };
};
