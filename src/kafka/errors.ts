import { findErrorBy } from "@platformatic/kafka";
import { type KafkaFailureKind, KafkaWriteError } from "./records.ts";

/** Kafka refuses these for what is in the request: retrying the same records cannot succeed. */
const RECORD_FATAL = [
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "CORRUPT_MESSAGE",
  "POLICY_VIOLATION",
  "INVALID_TIMESTAMP",
] as const;

/** Kafka refuses these for the topic: its records wait, other topics flow. */
const TOPIC_FATAL = [
  "TOPIC_AUTHORIZATION_FAILED",
  "UNKNOWN_TOPIC_OR_PARTITION",
  "UNKNOWN_TOPIC_ID",
  "INVALID_TOPIC_EXCEPTION",
] as const;

/**
 * Classifies an error of `@platformatic/kafka` by the Kafka error codes it carries (`apiId`, found
 * anywhere in its chain). Whatever is neither record- nor topic-fatal is retriable: network failures,
 * leadership changes, timeouts, throttling, a cluster that is down.
 */
export const classifyKafkaError = (error: unknown): KafkaWriteError => {
  if (error instanceof KafkaWriteError) return error;
  const match = (ids: readonly string[], kind: KafkaFailureKind) => {
    for (const id of ids) if (findErrorBy(error as Error, "apiId", id) !== null) return { id, kind };
    return undefined;
  };
  const found = match(RECORD_FATAL, "record") ?? match(TOPIC_FATAL, "topic");
  const message = error instanceof Error ? error.message : String(error);
  return found === undefined
    ? new KafkaWriteError("retriable", "UNAVAILABLE", message, { cause: error })
    : new KafkaWriteError(found.kind, found.id, message, { cause: error });
};
