import type { Logger } from "pino";
import {
  type BehaviorEventInput,
  type Environment,
  ERRORS,
  type ErrorCode,
  type EventOutcome,
  type Issue,
  type TrackingConfig,
} from "../core/index.ts";
import type { Codec } from "../kafka/producer.ts";
import type { KafkaWriterSettings } from "../kafka/writer.ts";

// The Kafka-direct tracker's public types: how it is opened, what it takes and what it answers.

export interface KafkaTrackerOptions {
  brokers: string[];
  /** TLS and SASL for a secured cluster, as the Kafka client takes them (docs/security.md). */
  connection?: KafkaWriterSettings["connection"];
  /** Filled into events that have no `tenant_id`. */
  tenantId: string;
  /** Where events wait while Kafka is unreachable; it survives restarts (one directory per process). */
  spoolDir: string;
  /** Tracking configs to validate against, as the relay would; without one only the envelope is checked. */
  configs?: readonly TrackingConfig[];
  /**
   * Where the tracker reads its tenant's configs itself: the relay's admin API, with the tenant's
   * secret key. Read at open and every `refreshMs` (default 30 s); when a read fails the configs read
   * last (or `configs`) stay in use.
   */
  configsFrom?: { relayUrl: string; secretKey: string; refreshMs?: number };
  clientId?: string;
  /** The codec of a topic's records from 64 KB in a request (default zstd)… */
  compression?: Codec;
  /** …and from 1 KB (default lz4); a record alone goes uncompressed (docs/performance.md, "Compression"). */
  compressionSmall?: Codec;
  /** A produce request goes when this many events wait (default 100)… */
  flushAtEvents?: number;
  /** …or when the oldest has waited this long (default 1000 ms). */
  lingerMs?: number;
  /**
   * A produce request Kafka has not acknowledged after this long is backed up to the spool, so `track`
   * resolves (default 5000 ms); it still lands if Kafka answers later. Raise it for a slow cluster.
   */
  ackTimeoutMs?: number;
  /** Spool limit; beyond it `track` rejects instead of accepting what it cannot keep (default 256 MiB). */
  spoolMaxBytes?: number;
  /** The share of the spool one topic (one tenant's events) may take (default a quarter of `spoolMaxBytes`). */
  spoolTopicMaxBytes?: number;
  /** Bytes of the dead-letter file beside the spool (records refused even by their quarantine topic; default 64 MiB). */
  deadLetterMaxBytes?: number;
  /** The share of the dead-letter file one tenant may take (default a quarter of `deadLetterMaxBytes`). */
  deadLetterTenantMaxBytes?: number;
  /** Partitions of a tenant topic this tracker creates (default 12). */
  partitions?: number;
  /** Replicas (default min(3, brokers)) and min.insync.replicas (default 2 with three replicas, else 1). */
  replicationFactor?: number;
  minInsyncReplicas?: number;
  /** A user's events per second beyond which the excess is spread over partitions (default 1000; 0: off). */
  hotKeyEventsPerSecond?: number;
  /** Create a tenant's topic on its first event (default true); false for a produce-only Kafka user. */
  autoCreateTopics?: boolean;
  log?: Logger;
  env?: Environment;
}

/**
 * What became of one tracked event: the relay's outcome, named as this client has always named it. A
 * refusal carries the same error code, message, field errors and `retryable` as the relay's answer for
 * that event (`invalid_event`, `payload_too_large`…); `sink_unavailable` (retryable) means the event was
 * valid but its tenant's topic could not store it now: the same event may be tracked again.
 */
export type TrackOutcome =
  | { ok: true; event_id: string; warnings: Issue[] }
  | { ok: false; code: ErrorCode; message: string; errors: Issue[]; warnings: Issue[]; retryable: boolean };

export const trackOutcomeOf = (outcome: EventOutcome): TrackOutcome =>
  outcome.ok
    ? { ok: true, event_id: outcome.eventId, warnings: outcome.warnings }
    : {
        ok: false,
        code: outcome.code,
        message: outcome.message,
        errors: outcome.errors,
        warnings: outcome.warnings,
        retryable: ERRORS[outcome.code].retryable,
      };

/** An event as a service tracks it: `event_id`, `timestamp` and `tenant_id` may be left to the tracker. */
export type TrackedEvent = Omit<BehaviorEventInput, "tenant_id"> & { tenant_id?: string };
