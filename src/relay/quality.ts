import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import {
  addCounts,
  answerBucket,
  BoundedLabels,
  CONTENT_REFUSALS,
  claimedTenantId,
  emptyCounts,
  hourOf,
  type IssueCell,
  type IssueTally,
  isPlainObject,
  isValidTenantId,
  jsonOfAnything,
  OTHER,
  type QualityCell,
  type QualityCounts,
  type QualitySource,
  type QuarantineReason,
  structureProblem,
  tenantOfTopic,
} from "../core/index.ts";
import { mayHaveBeenApplied } from "./store/mongo.ts";
import type { QualityRepository } from "./store/quality.ts";

/**
 * How many distinct values each label may take, the first ones seen; the rest are counted as `other`.
 * Tenants bound only the Prometheus labels (the stored aggregates are per tenant anyway).
 */
export interface QualityBounds {
  tenants: number;
  scenarios: number;
  fields: number;
  producers: number;
}
export const QUALITY_BOUNDS: QualityBounds = { tenants: 100, scenarios: 20, fields: 20, producers: 10 };

/** An example event is kept whole up to this size; a larger one is kept as the start of its JSON. */
const EXAMPLE_MAX_CHARS = 4096;

type Cell = QualityCell & { tenantId: string };
/**
 * A field problem as one call counted it. Its example is made only if the problem is new in its hour's
 * cell: serialising every problem's event took a tenth of the relay's CPU when each event of a call was
 * another tenant's.
 */
type CallIssue = Omit<IssueTally, "example"> & { example: () => IssueTally["example"] };
/** What one call counted for one (tenant, scenario, producer), before it is added to the cells. */
type Tally = Omit<Cell, "hour" | "source"> & { issues: Map<string, CallIssue> };
/** A field problem as counted: an issue, or a refusal's field error as the edge hands it over. */
type FieldProblem = { path: string; code?: string };
/** One event's verdict as counted: an outcome of the relay or the edge, or the auditor's re-check. */
type Verdict = {
  ok: boolean;
  code?: string;
  eventId?: string;
  /** The problems that refused it (only counted when it was refused). */
  errors?: readonly FieldProblem[];
  warnings: readonly FieldProblem[];
};
type IssueEntry = IssueCell & { tenantId: string };

/**
 * A refused event may break every structure limit (nested thousands deep it cannot even be serialised,
 * and BSON refuses documents over 100 levels): such an example is kept as the start of its JSON.
 */
const exampleOf = (eventId: string | null, event: unknown) => {
  const json = jsonOfAnything(event);
  const whole =
    json !== undefined &&
    json.length <= EXAMPLE_MAX_CHARS &&
    (typeof event !== "object" || event === null || (isPlainObject(event) && !structureProblem(event)));
  return {
    event_id: eventId,
    event: whole ? event : (json?.slice(0, EXAMPLE_MAX_CHARS) ?? "(nested too deeply to show)"),
  };
};

/**
 * Counts the data quality of every tenant's events where they are decided: the relay's own calls,
 * the edge's (the edge forwards every verdict to the relay) and the auditor's re-checks of the
 * topics. Counts go to Prometheus, with bounded labels, and every few seconds to the hourly aggregates
 * in MongoDB that the quality API reads.
 */
export class QualityRecorder {
  readonly #store: Pick<QualityRepository, "add"> | undefined;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #tenants: BoundedLabels;
  readonly #scenarios: BoundedLabels;
  readonly #fields: BoundedLabels;
  readonly #producers: BoundedLabels;
  #cells = new Map<string, Cell>();
  #issues = new Map<string, IssueEntry>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  /** Cells and field tallies of the flush under way, taken from the maps and not yet written. */
  #sending = 0;
  readonly #maxCells: number;
  readonly #flushFailures: Counter;
  readonly #unconfirmed: Counter;
  readonly received: Counter<"source" | "tenant" | "scenario">;
  readonly accepted: Counter<"source" | "tenant" | "scenario" | "warned">;
  readonly refused: Counter<"source" | "tenant" | "scenario" | "reason">;
  readonly issues: Counter<"source" | "tenant" | "field" | "code" | "severity">;

  constructor(deps: {
    registry: Registry;
    store?: Pick<QualityRepository, "add">;
    now?: () => number;
    log: Logger;
    bounds?: QualityBounds;
    /** The most cells (and field tallies) one flush writes: a flush holds the store only so long. */
    maxCellsPerFlush?: number;
  }) {
    const bounds = deps.bounds ?? QUALITY_BOUNDS;
    this.#maxCells = deps.maxCellsPerFlush ?? 500;
    this.#store = deps.store;
    this.#now = deps.now ?? Date.now;
    this.#log = deps.log;
    this.#tenants = new BoundedLabels(bounds.tenants);
    this.#scenarios = new BoundedLabels(bounds.scenarios);
    this.#fields = new BoundedLabels(bounds.fields);
    this.#producers = new BoundedLabels(bounds.producers);
    const registers = [deps.registry];
    this.received = new Counter({
      name: "quality_events_received_total",
      help: "Events checked, by source (relay, edge, audit), tenant and scenario",
      labelNames: ["source", "tenant", "scenario"] as const,
      registers,
    });
    this.accepted = new Counter({
      name: "quality_events_accepted_total",
      help: "Events accepted (for the auditor: passed), with or without warnings",
      labelNames: ["source", "tenant", "scenario", "warned"] as const,
      registers,
    });
    this.refused = new Counter({
      name: "quality_events_refused_total",
      help: "Events refused (for the auditor: failed the check), by error code",
      labelNames: ["source", "tenant", "scenario", "reason"] as const,
      registers,
    });
    const recorder = this;
    new Gauge({
      name: "quality_pending_cells",
      help: "Quality cells and field tallies counted but not yet stored (they wait for a flush, merged)",
      registers,
      collect() {
        this.set(recorder.pending);
      },
    });
    this.#flushFailures = new Counter({
      name: "quality_flush_failures_total",
      help: "Flushes of quality counts the store did not take (the counts are kept for the next flush)",
      registers,
    });
    this.#unconfirmed = new Counter({
      name: "quality_events_unconfirmed_total",
      help:
        "Events counted in a flush that failed after it was sent: the store may or may not have added them, " +
        "and they are not sent again (that could count them twice)",
      registers,
    });
    this.issues = new Counter({
      name: "quality_field_issues_total",
      help: "Field problems found, by field path, issue code and severity (warning or error)",
      labelNames: ["source", "tenant", "field", "code", "severity"] as const,
      registers,
    });
  }

  #cell(tenantId: string, source: QualitySource, scenario: string, producer = "", validated = true): Cell {
    const hour = hourOf(this.#now());
    const key = [tenantId, hour, source, scenario, validated ? 1 : 0, producer].join("|");
    let cell = this.#cells.get(key);
    if (cell === undefined) {
      cell = { tenantId, hour, source, scenario, producer, validated, counts: emptyCounts() };
      this.#cells.set(key, cell);
    }
    return cell;
  }

  /** Tallies one field problem of an event into its call's tally. */
  #issue(
    tally: Tally,
    problem: FieldProblem,
    severity: "warning" | "error",
    example: () => IssueCell["example"],
  ) {
    const given = problem.code ?? "invalid_value";
    const kept = this.#fields.label(tally.tenantId, `${problem.path} ${given}`) !== OTHER;
    const path = kept ? problem.path : OTHER;
    const code = kept ? given : OTHER;
    const key = `${severity}\u0000${code}\u0000${path}`;
    const seen = tally.issues.get(key);
    if (seen !== undefined) seen.count++;
    else tally.issues.set(key, { path, code, severity, count: 1, example });
  }

  /**
   * Tallies one event's verdict into `tallies`, one per (tenant, scenario, producer) of a call. Events
   * of no valid tenant, or of another tenant than the key's (forbidden), count nowhere.
   */
  #tally(
    tallies: Map<string, Tally>,
    input: unknown,
    verdict: Verdict,
    audit?: { tenantId: string; producer: { name: string; validated: boolean } },
  ): string | undefined {
    const tenantId = audit?.tenantId ?? claimedTenantId(input);
    if (tenantId === undefined || verdict.code === "forbidden" || !isValidTenantId(tenantId)) return;
    const claimed = (input as { scenario_id?: unknown }).scenario_id;
    const scenario = this.#scenarios.label(tenantId, typeof claimed === "string" ? claimed : "");
    const producer = audit === undefined ? "" : this.#producers.label(tenantId, audit.producer.name);
    const validated = audit?.producer.validated ?? true;
    const key = `${tenantId}\u0000${scenario}\u0000${producer}\u0000${validated}`;
    let tally = tallies.get(key);
    if (tally === undefined) {
      tally = { tenantId, scenario, producer, validated, counts: emptyCounts(), issues: new Map() };
      tallies.set(key, tally);
    }
    const { counts } = tally;
    counts.received++;
    if (verdict.ok) {
      counts.accepted++;
      if (verdict.warnings.length > 0) counts.warned++;
    } else {
      const reason = verdict.code ?? "invalid_event";
      // Refused for what the event is (the client's to fix), or for an operational reason (retried).
      if (CONTENT_REFUSALS.has(reason as QuarantineReason)) counts.refused++;
      else counts.failed++;
      counts.reasons[reason] = (counts.reasons[reason] ?? 0) + 1;
    }
    const errors = verdict.ok ? [] : (verdict.errors ?? []);
    if (verdict.warnings.length + errors.length > 0) {
      const claimedId = (input as { event_id?: unknown }).event_id;
      const example = () =>
        exampleOf(verdict.eventId ?? (typeof claimedId === "string" ? claimedId : null), input);
      for (const problem of verdict.warnings) this.#issue(tally, problem, "warning", example);
      for (const problem of errors) this.#issue(tally, problem, "error", example);
    }
    return tenantId;
  }

  /**
   * Adds a call's tallies to their cells, and to Prometheus once per label set: past the first 100
   * tenants all share the label `other`, so a call over 100 tenants is a few increments, not hundreds.
   */
  #add(source: QualitySource, tallies: Map<string, Tally>): void {
    const byLabels = new Map<string, { tenant: string; scenario: string; counts: QualityCounts }>();
    const issuesByLabels = new Map<string, { labels: Record<string, string>; count: number }>();
    const hour = hourOf(this.#now());
    for (const tally of tallies.values()) {
      const { tenantId, scenario, producer, validated, counts } = tally;
      addCounts(this.#cell(tenantId, source, scenario, producer, validated).counts, counts);
      const tenant = this.#tenants.label("", tenantId);
      const scenarioLabel = tenant === OTHER ? OTHER : scenario;
      const labelKey = `${tenant}\u0000${scenarioLabel}`;
      let labelled = byLabels.get(labelKey);
      if (labelled === undefined) {
        labelled = { tenant, scenario: scenarioLabel, counts: emptyCounts() };
        byLabels.set(labelKey, labelled);
      }
      addCounts(labelled.counts, counts);
      for (const issue of tally.issues.values()) {
        const { path, code, severity, count, example } = issue;
        const field = tenant === OTHER ? { field: OTHER, code: OTHER } : { field: path, code };
        const issueLabelKey = `${tenant}\u0000${severity}\u0000${field.field}\u0000${field.code}`;
        const seenLabels = issuesByLabels.get(issueLabelKey);
        if (seenLabels !== undefined) seenLabels.count += count;
        else issuesByLabels.set(issueLabelKey, { labels: { source, tenant, severity, ...field }, count });
        const key = [tenantId, hour, source, severity, code, path].join("|");
        const seen = this.#issues.get(key);
        if (seen !== undefined) seen.count += count;
        else
          this.#issues.set(key, { tenantId, hour, source, path, code, severity, count, example: example() });
      }
    }
    for (const { tenant, scenario, counts } of byLabels.values()) {
      const labels = { source, tenant, scenario };
      this.received.inc(labels, counts.received);
      if (counts.accepted > counts.warned)
        this.accepted.inc({ ...labels, warned: "false" }, counts.accepted - counts.warned);
      if (counts.warned > 0) this.accepted.inc({ ...labels, warned: "true" }, counts.warned);
      for (const [reason, n] of Object.entries(counts.reasons)) this.refused.inc({ ...labels, reason }, n);
    }
    for (const { labels, count } of issuesByLabels.values()) this.issues.inc(labels, count);
  }

  /** The verdicts of one call from `source`, answered in `ms` (each tenant of the call counts the call once). */
  call(source: "relay" | "edge", inputs: readonly unknown[], verdicts: readonly Verdict[], ms: number): void {
    const tallies = new Map<string, Tally>();
    const tenants = new Set<string>();
    verdicts.forEach((verdict, i) => {
      const tenant = this.#tally(tallies, inputs[i], verdict);
      if (tenant !== undefined) tenants.add(tenant);
    });
    this.#add(source, tallies);
    const bucket = answerBucket(ms);
    for (const tenant of tenants) {
      const answers = this.#cell(tenant, source, "").counts.answers;
      answers[bucket] = (answers[bucket] ?? 0) + 1;
    }
  }

  /** A whole call refused before its events were checked (overloaded, rate limited). */
  refusedCall(source: "relay" | "edge", inputs: readonly unknown[], code: string, ms: number): void {
    this.call(
      source,
      inputs,
      inputs.map(() => ({ ok: false, code, warnings: [] })),
      ms,
    );
  }

  /** Accepted events of a tenant topic that went to the spool instead of Kafka. */
  spooled(topic: string, events: number): void {
    const tenantId = tenantOfTopic(topic);
    if (tenantId !== undefined) this.#cell(tenantId, "relay", "").counts.spooled += events;
  }

  /** The auditor's verdict on one record read back from a tenant's topic, counted for that tenant. */
  audited(
    tenantId: string,
    event: unknown,
    verdict: Verdict,
    producer: { name: string; validated: boolean },
  ): void {
    const tallies = new Map<string, Tally>();
    const counted = verdict.ok ? verdict : { ...verdict, code: "invalid_event" };
    this.#tally(tallies, event, counted, { tenantId, producer });
    this.#add("audit", tallies);
  }

  /**
   * Adds up to `maxCells` counted cells (and as many field tallies) to the stored aggregates; the rest
   * stay in memory, where later counts of the same cell add to them, for the next flush. Counts and
   * field tallies are written apart. A part that surely did not reach the store is kept for the next
   * flush; one that may have (its answer was lost) is not sent again, since re-adding a part already
   * written would count it twice: its events are counted in `quality_events_unconfirmed_total`. One
   * flush runs at a time: a flush that finds one under way returns.
   */
  async flush(): Promise<void> {
    if (this.#flushing !== undefined) return;
    this.#flushing = this.#flushSome().finally(() => {
      this.#flushing = undefined;
    });
    await this.#flushing;
  }

  async #flushSome(): Promise<void> {
    const store = this.#store;
    if (store === undefined) return;
    const cells = takeSome(this.#cells, this.#maxCells);
    const issues = takeSome(this.#issues, this.#maxCells);
    this.#sending = cells.size + issues.size;
    /** Whether the failed part is to be kept for the next flush. */
    const failed = (error: unknown, events: number): boolean => {
      this.#flushFailures.inc();
      if (mayHaveBeenApplied(error)) {
        this.#unconfirmed.inc(events);
        this.#log.warn({ err: error, events }, "quality counts sent, but the store did not confirm them");
        return false;
      }
      this.#log.warn({ err: error }, "quality counts could not be stored; kept for the next flush");
      return true;
    };
    if (cells.size > 0) {
      await store.add([...cells.values()], []).catch((error: unknown) => {
        let events = 0;
        for (const cell of cells.values()) events += cell.counts.received;
        if (!failed(error, events)) return;
        for (const [key, cell] of cells) {
          const now = this.#cells.get(key);
          if (now === undefined) this.#cells.set(key, cell);
          else addCounts(now.counts, cell.counts);
        }
      });
      this.#sending -= cells.size;
    }
    if (issues.size > 0) {
      await store.add([], [...issues.values()]).catch((error: unknown) => {
        if (!failed(error, 0)) return;
        for (const [key, issue] of issues) {
          const now = this.#issues.get(key);
          if (now === undefined) this.#issues.set(key, issue);
          else now.count += issue.count;
        }
      });
      this.#sending -= issues.size;
    }
  }

  /** Flushes every `intervalMs` until {@link close}. */
  start(intervalMs: number): void {
    this.#timer = setInterval(() => void this.flush(), intervalMs);
    this.#timer.unref();
  }

  /** Stops flushing on a timer and writes what is left (all of it, a part at a time). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#flushing;
    for (let pending = this.pending; pending > 0; ) {
      await this.flush();
      // A flush that stored nothing (the store is down) would be tried forever: what is left is lost.
      if (this.pending >= pending) break;
      pending = this.pending;
    }
  }

  /** Cells and field tallies counted and not yet stored (those of a flush under way too). */
  get pending(): number {
    return this.#cells.size + this.#issues.size + this.#sending;
  }
}

/** Removes and returns the first `max` entries of `map`. */
const takeSome = <T>(map: Map<string, T>, max: number): Map<string, T> => {
  const taken = new Map<string, T>();
  for (const [key, value] of map) {
    if (taken.size >= max) break;
    taken.set(key, value);
  }
  for (const key of taken.keys()) map.delete(key);
  return taken;
};
