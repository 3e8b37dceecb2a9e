import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import {
  addCounts,
  answerBucket,
  BoundedLabels,
  emptyCounts,
  hourOf,
  OTHER,
  type QualityCounts,
  type QualitySource,
  tenantOfTopic,
} from "../core/index.ts";
import { PendingQuality } from "./quality-cells.ts";
import { type Cell, QualityTallier, type Tally, type Verdict } from "./quality-tally.ts";
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

/**
 * Counts the data quality of every tenant's events where they are decided: the relay's own calls,
 * the edge's (the edge forwards every verdict to the relay) and the auditor's re-checks of the
 * topics. Counts go to Prometheus, with bounded labels, and every few seconds to the hourly aggregates
 * in MongoDB that the quality API reads (quality-cells.ts).
 */
export class QualityRecorder {
  readonly #now: () => number;
  readonly #tenants: BoundedLabels;
  readonly #tallier: QualityTallier;
  readonly #pending: PendingQuality;
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
    this.#now = deps.now ?? Date.now;
    this.#tenants = new BoundedLabels(bounds.tenants);
    this.#tallier = new QualityTallier(bounds);
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
    this.#pending = new PendingQuality({
      registry: deps.registry,
      store: deps.store,
      log: deps.log,
      maxCellsPerFlush: deps.maxCellsPerFlush ?? 500,
    });
    this.issues = new Counter({
      name: "quality_field_issues_total",
      help: "Field problems found, by field path, issue code and severity (warning or error)",
      labelNames: ["source", "tenant", "field", "code", "severity"] as const,
      registers,
    });
  }

  #cell(tenantId: string, source: QualitySource, scenario: string, producer = "", validated = true): Cell {
    return this.#pending.cell(tenantId, hourOf(this.#now()), source, scenario, producer, validated);
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
        this.#pending.addIssue({ tenantId, hour, source, path, code, severity, count }, example);
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
      const tenant = this.#tallier.tally(tallies, inputs[i], verdict);
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
    this.#tallier.tally(tallies, event, counted, { tenantId, producer });
    this.#add("audit", tallies);
  }

  /** Adds counted cells to the stored aggregates, a bounded part at a time ({@link PendingQuality.flush}). */
  flush(): Promise<void> {
    return this.#pending.flush();
  }

  /** Flushes every `intervalMs` until {@link close}. */
  start(intervalMs: number): void {
    this.#pending.start(intervalMs);
  }

  /** Stops flushing on a timer and writes what is left (all of it, a part at a time). */
  close(): Promise<void> {
    return this.#pending.close();
  }

  /** Cells and field tallies counted and not yet stored (those of a flush under way too). */
  get pending(): number {
    return this.#pending.size;
  }
}
