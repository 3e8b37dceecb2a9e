import type { Logger } from "pino";
import type { Clock } from "./clock.ts";
import type { DeadLetters } from "./dead-letters.ts";
import type { KafkaWriterMetrics } from "./metrics.ts";
import { type EventRecord, type RecordProducer, recordBytes } from "./records.ts";
import type { SpoolStore } from "./spool.ts";

export interface WritePathSettings {
  /** A produce request goes when this many events of a topic wait… */
  flushAtEvents: number;
  /** …or when the oldest has waited this long. */
  lingerMs: number;
  /** At most this many events… */
  maxBatchEvents: number;
  /** …and this many bytes per produce request, safely under the broker's message.max.bytes. */
  maxBatchBytes: number;
  /** A request not acknowledged in this time is backed up to the spool so its callers can be answered. */
  ackTimeoutMs: number;
  /** Events waiting for Kafka, all topics together, beyond which new ones go to the spool. */
  bufferMaxEvents: number;
  /**
   * Events waiting for Kafka in one topic (one tenant's share of the buffer), beyond which that topic's
   * new ones go to its spool: one tenant's burst cannot fill the buffer and push the others' to disk.
   */
  bufferTopicMaxEvents: number;
  /** Events per second of one user in one topic beyond which the excess is spread (0: never). */
  hotKeyEventsPerSecond: number;
  /** Told of records the spool took instead of Kafka, by topic: the per-tenant quality figures count them. */
  onSpooled?: (topic: string, events: number) => void;
}

/** Records written to a lane, waiting to be sent, with their writer's answer. */
export interface Pending {
  records: readonly EventRecord[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** How many of the pending writes, and events, go in the next request: in order, bounded as a request. */
export const nextRequest = (
  pending: readonly Pending[],
  settings: Pick<WritePathSettings, "maxBatchEvents" | "maxBatchBytes">,
): { writes: number; events: number } => {
  let writes = 0;
  let events = 0;
  let bytes = 0;
  for (const next of pending) {
    const size = next.records.reduce((n, r) => n + recordBytes(r), 0);
    if (
      writes > 0 &&
      (events + next.records.length > settings.maxBatchEvents || bytes + size > settings.maxBatchBytes)
    )
      break;
    writes++;
    events += next.records.length;
    bytes += size;
  }
  return { writes, events };
};

/** Cuts records into produce requests bounded in events and bytes, in order. */
export const requestsOf = (
  records: readonly EventRecord[],
  settings: Pick<WritePathSettings, "maxBatchEvents" | "maxBatchBytes">,
): EventRecord[][] => {
  const requests: EventRecord[][] = [];
  let current: EventRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = recordBytes(record);
    if (
      current.length > 0 &&
      (current.length >= settings.maxBatchEvents || bytes + size > settings.maxBatchBytes)
    ) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(record);
    bytes += size;
  }
  if (current.length > 0) requests.push(current);
  return requests;
};

/** Everything the lanes of one sink share: its ports, settings and the counts its health is read from. */
export interface LaneContext {
  producer: RecordProducer;
  spools: SpoolStore;
  settings: WritePathSettings;
  metrics: KafkaWriterMetrics;
  log: Logger;
  deadLetters: DeadLetters;
  clock: Clock;
  /** Events in all lanes' buffers. */
  buffered: number;
  /** Lanes whose last write failed, kept as a count: health is asked per call, lanes number thousands. */
  failingLanes: number;
  /** When Kafka last acknowledged a request of any lane. */
  deliveredAt: number;
  /** When a request last failed for the cluster's sake (unreachable, late), not for its topic's or records'. */
  clusterFailedAt: number;
  /** When such a failure was last logged. */
  clusterWarnedAt: number;
  /** Writes a quarantine record through the sink (its topic has a lane of its own). */
  quarantine(records: EventRecord[]): Promise<void>;
  /** A topic's spool grew or shrank: the gauges follow. */
  spoolChanged(topic: string, bytes: number): void;
}
