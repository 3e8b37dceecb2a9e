import type { WritePathSettings } from "../../src/kafka/lane-context.ts";

/** Write-path settings for unit tests of the durable sink: short timers, bounds no test reaches by chance. */
export const TEST_WRITE_PATH: WritePathSettings = {
  flushAtEvents: 100,
  lingerMs: 5,
  maxBatchEvents: 1000,
  maxBatchBytes: 900_000,
  ackTimeoutMs: 50,
  bufferMaxEvents: 10_000,
  bufferTopicMaxEvents: 10_000,
  hotKeyEventsPerSecond: 0,
};
