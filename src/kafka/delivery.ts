import { quarantineRecord, TOPIC_PREFIX } from "../core/index.ts";
import { DeadLettersFullError, wasAcknowledged } from "./dead-letters.ts";
import { classifyKafkaError } from "./errors.ts";
import { FAILURE_POLICY } from "./failure-policy.ts";
import { type LaneContext, requestsOf } from "./lane-context.ts";
import { type EventRecord, KafkaWriteError } from "./records.ts";

// Delivering a topic's records to Kafka, and setting aside what Kafka refuses for good: the policy of
// where a refused record goes (its tenant's quarantine topic, else the dead-letter file, else its sender
// is refused retryably), apart from the lane's mechanism of batching, spooling and replaying.

/**
 * Records of a direct send that Kafka refused for good and that could be kept nowhere (no room in the
 * dead-letter file, or the quarantine topic's spool is full), with why: not acknowledged, their senders
 * are refused retryably instead.
 */
export type Unkept = Map<EventRecord, Error>;

/** How a direct send went: in time (some records perhaps unkept), late (still running), or failed. */
export type SendOutcome = { unkept: Unkept } | { failed: KafkaWriteError } | { late: Promise<void> };

/**
 * Sends records and waits for Kafka, but no longer than the ack timeout. A late request is not
 * abandoned: its records are backed up to the spool (so its callers can be answered) and, if it lands
 * after all, the backup is skipped instead of being sent again, so a slow broker makes no duplicates.
 */
export const sendInTime = async (
  lane: LaneContext,
  topic: string,
  records: readonly EventRecord[],
): Promise<SendOutcome> => {
  const unkept: Unkept = new Map();
  const attempt = deliverAll(lane, topic, records, unkept);
  let cancel = () => {};
  const deadline = new Promise<"late">((resolve) => {
    cancel = lane.clock.schedule(() => resolve("late"), lane.settings.ackTimeoutMs);
  });
  const outcome = await Promise.race([
    attempt.then(
      () => "delivered" as const,
      (error: KafkaWriteError) => error,
    ),
    deadline,
  ]);
  cancel();
  if (outcome === "delivered") return { unkept };
  if (outcome !== "late") return { failed: outcome };
  const late = attempt.then(() => {
    // Landed, but with records kept nowhere: no delivery, so their spooled backups are sent again.
    if (unkept.size > 0) throw [...unkept.values()][0];
  });
  // Handled here too: when the backup to the spool fails, its callers are refused and nobody waits
  // for the late send, whose failure would otherwise be an unhandled rejection.
  late.catch(() => "the drain loop reads the outcome when it still matters");
  return { late };
};

/** Sends records in requests bounded in events and bytes. */
export const deliverAll = async (
  lane: LaneContext,
  topic: string,
  records: readonly EventRecord[],
  unkept?: Unkept,
): Promise<void> => {
  for (const request of requestsOf(records, lane.settings)) await deliver(lane, topic, request, unkept);
};

/**
 * One produce request. When Kafka refuses what is in it (too large, invalid, policy), the request is
 * halved until the offending records are alone, and those are quarantined; the rest are delivered.
 * Retriable and topic-level failures are thrown. `unkept` (a direct send, not yet acknowledged)
 * collects refused records that could be kept nowhere; without it (a replay of the spool) they throw.
 */
export const deliver = async (
  lane: LaneContext,
  topic: string,
  records: readonly EventRecord[],
  unkept?: Unkept,
): Promise<void> => {
  const { producer, metrics } = lane;
  const started = performance.now();
  try {
    await producer.send(records);
  } catch (cause) {
    const error = classifyKafkaError(cause);
    if (FAILURE_POLICY[error.kind].records !== "set_aside") throw error;
    if (records.length > 1) {
      const half = Math.ceil(records.length / 2);
      await deliver(lane, topic, records.slice(0, half), unkept);
      await deliver(lane, topic, records.slice(half), unkept);
    } else await setAside(lane, topic, records[0] as EventRecord, error, unkept);
    return;
  }
  metrics.kafkaProduceSeconds.observe((performance.now() - started) / 1000);
  metrics.kafkaBatchEvents.observe(records.length);
  metrics.kafkaSuccess.inc(records.length);
};

/**
 * A record Kafka refuses for good: into its tenant's quarantine topic, or (a quarantine record) the
 * local dead-letter file. What can be kept nowhere is never dropped if it was acknowledged: a direct
 * send's record goes to `unkept` (its sender is refused retryably), a spooled one stays in the spool.
 */
const setAside = async (
  lane: LaneContext,
  topic: string,
  record: EventRecord,
  error: KafkaWriteError,
  unkept?: Unkept,
): Promise<void> => {
  const { metrics, log, clock } = lane;
  metrics.kafkaRefusedRecords.inc({ reason: error.reason });
  log.error({ topic, eventId: record.eventId, reason: error.reason }, "kafka refused a record");
  const tenant = topic.slice(TOPIC_PREFIX.length);
  if (topic.endsWith("-rejected") || !topic.startsWith(TOPIC_PREFIX)) {
    await deadLetter(lane, topic, record, error.reason, unkept);
    return;
  }
  let event: unknown;
  try {
    event = JSON.parse(record.value);
  } catch (parseError) {
    if (!(parseError instanceof SyntaxError)) throw parseError;
    event = record.value;
  }
  const refusal = {
    reason: "kafka_refused" as const,
    errors: [{ path: "", message: `Kafka refused the record: ${error.reason}` }],
    event,
  };
  try {
    await lane.quarantine([{ ...quarantineRecord(tenant, refusal, clock.now()), eventId: record.eventId }]);
  } catch (cause) {
    // The quarantine topic's lane could keep it nowhere (its spool full, no room for dead letters):
    // this topic's trouble, not the cluster's.
    const failure = new KafkaWriteError(
      "topic",
      "QUARANTINE_UNWRITTEN",
      "the quarantine could not keep a record",
      {
        cause,
      },
    );
    if (unkept === undefined) throw failure;
    unkept.set(record, failure);
  }
};

/**
 * A quarantine record its topic refuses: into the dead-letter file. Without room there, a refusal
 * (its sender was answered 4xx, never told it is kept) is dropped and counted; an acknowledged event's
 * record is not (see {@link setAside}).
 */
const deadLetter = async (
  lane: LaneContext,
  topic: string,
  record: EventRecord,
  reason: string,
  unkept?: Unkept,
): Promise<void> => {
  const { metrics, log } = lane;
  try {
    await lane.deadLetters.append([{ record, reason }]);
    metrics.deadLetterRecords.inc();
  } catch (error) {
    if (!(error instanceof DeadLettersFullError)) throw error;
    if (!wasAcknowledged(record)) {
      metrics.deadLetterDroppedRecords.inc({ tenant: error.tenant });
      log.warn({ topic, reason }, "a refusal was dropped: its tenant's dead letters are full");
      return;
    }
    log.warn({ topic, reason }, "no room for an acknowledged event's dead letter; it waits");
    if (unkept === undefined) throw error;
    unkept.set(record, error);
  }
};
