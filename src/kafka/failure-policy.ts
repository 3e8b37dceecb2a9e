import { type KafkaFailureKind, KafkaWriteError } from "./records.ts";

/**
 * What the write path does when Kafka did not take a request, by how it failed: whose trouble it is and
 * where the records go. The one place these rules live; the lanes, the combining producer and the
 * dead-letter file ask it.
 * - `cluster`: no answer or a retriable one (network, leadership, timeouts): every topic waits alike, and
 *   the relay counts Kafka as away until it acknowledges anything again;
 * - `topic`: Kafka refuses the topic (unknown, not authorised): only its records wait, its sends go alone;
 * - `record`: Kafka refuses what is in the request: it is split until the offending records are alone,
 *   and those are set aside (quarantine, else the dead-letter file); the rest are delivered.
 */
export const FAILURE_POLICY = {
  retriable: { blame: "cluster", records: "spool" },
  topic: { blame: "topic", records: "spool" },
  record: { blame: "record", records: "set_aside" },
} as const satisfies Record<KafkaFailureKind, { blame: string; records: "spool" | "set_aside" }>;

export type Blame = (typeof FAILURE_POLICY)[KafkaFailureKind]["blame"];

/** Whose trouble a failure is; a late request (no error) is the cluster's. */
export const blameOf = (error: unknown): Blame =>
  error instanceof KafkaWriteError ? FAILURE_POLICY[error.kind].blame : "cluster";
