// What data quality is counted as: a tenant's events per hour, source, scenario and producer, and its
// field problems; the quality API's report of them is in quality-report.ts.
/**
 * Where events were counted: taken by the relay from its own callers, forwarded by the edge, or read
 * back from the tenant's topic by the auditor (every writer, our validated paths and direct ones).
 */
export const QUALITY_SOURCES = ["relay", "edge", "audit"] as const;
export type QualitySource = (typeof QUALITY_SOURCES)[number];

/** Upper bounds (ms) of the answer-time buckets; the last bucket holds everything slower. */
export const ANSWER_BOUNDS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] as const;

/** Counts of one cell: a tenant's events of one hour, source, scenario and producer. */
export interface QualityCounts {
  /** Events counted. */
  received: number;
  /** Acknowledged (stored); for the auditor, passed the check. */
  accepted: number;
  /** Accepted with warnings (a subset of accepted). */
  warned: number;
  /** Refused for what they are (invalid, too large, another tenant's); for the auditor, failed the check. */
  refused: number;
  /** Not taken for an operational reason (overloaded, rate limited, storage unavailable): the client retries. */
  failed: number;
  /** Refused and failed events by error code. */
  reasons: Record<string, number>;
  /** Accepted events the spool took because Kafka did not take them at once; delivered later. */
  spooled: number;
  /** Calls answered, by answer time: one count per {@link ANSWER_BOUNDS_MS} bucket and one beyond. */
  answers: number[];
}

export const emptyCounts = (): QualityCounts => ({
  received: 0,
  accepted: 0,
  warned: 0,
  refused: 0,
  failed: 0,
  reasons: {},
  spooled: 0,
  answers: ANSWER_BOUNDS_MS.map(() => 0).concat(0),
});

/** The answer-time bucket of a call that took `ms`. */
export const answerBucket = (ms: number): number => {
  const i = ANSWER_BOUNDS_MS.findIndex((bound) => ms <= bound);
  return i === -1 ? ANSWER_BOUNDS_MS.length : i;
};

/** Adds `from` into `into`. */
export const addCounts = (into: QualityCounts, from: QualityCounts): QualityCounts => {
  into.received += from.received;
  into.accepted += from.accepted;
  into.warned += from.warned;
  into.refused += from.refused;
  into.failed += from.failed;
  into.spooled += from.spooled;
  for (const [code, n] of Object.entries(from.reasons)) into.reasons[code] = (into.reasons[code] ?? 0) + n;
  from.answers.forEach((n, i) => {
    into.answers[i] = (into.answers[i] ?? 0) + n;
  });
  return into;
};

/** One field problem as counted: its path and code, whether it refused events, and one example event. */
export interface IssueTally {
  path: string;
  code: string;
  severity: "warning" | "error";
  count: number;
  example: { event_id: string | null; event: unknown };
}

/** A stored cell: one hour's counts of a tenant for one source, scenario and producer. */
export interface QualityCell {
  hour: number;
  source: QualitySource;
  scenario: string;
  /** Who wrote the records the auditor read ("" for the edge and the relay). */
  producer: string;
  /** Written by one of our validating writers (the relay, the Kafka-direct tracker), by its header. */
  validated: boolean;
  counts: QualityCounts;
}

/** A stored field tally: one hour's count of a tenant's (source, path, code, severity). */
export interface IssueCell extends IssueTally {
  hour: number;
  source: QualitySource;
}

/** Cells are hours: counts are added to the hour they were made in, and reports read whole hours. */
export const HOUR_MS = 3_600_000;
export const hourOf = (ms: number): number => Math.floor(ms / HOUR_MS) * HOUR_MS;
