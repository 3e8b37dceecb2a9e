import {
  BoundedLabels,
  CONTENT_REFUSALS,
  claimedTenantId,
  emptyCounts,
  type IssueCell,
  type IssueTally,
  isPlainObject,
  isValidTenantId,
  jsonOfAnything,
  OTHER,
  type QualityCell,
  type QuarantineReason,
  structureProblem,
} from "../core/index.ts";

/** An example event is kept whole up to this size; a larger one is kept as the start of its JSON. */
const EXAMPLE_MAX_CHARS = 4096;

export type Cell = QualityCell & { tenantId: string };
/**
 * A field problem as one call counted it. Its example is made only if the problem is new in its hour's
 * cell: serialising every problem's event took a tenth of the relay's CPU when each event of a call was
 * another tenant's.
 */
type CallIssue = Omit<IssueTally, "example"> & { example: () => IssueTally["example"] };
/** What one call counted for one (tenant, scenario, producer), before it is added to the cells. */
export type Tally = Omit<Cell, "hour" | "source"> & { issues: Map<string, CallIssue> };
/** A field problem as counted: an issue, or a refusal's field error as the edge hands it over. */
type FieldProblem = { path: string; code?: string };
/** One event's verdict as counted: an outcome of the relay or the edge, or the auditor's re-check. */
export type Verdict = {
  ok: boolean;
  code?: string;
  eventId?: string;
  /** The problems that refused it (only counted when it was refused). */
  errors?: readonly FieldProblem[];
  warnings: readonly FieldProblem[];
};

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
 * Tallies the verdicts of one call, one tally per (tenant, scenario, producer). Scenarios, field
 * problems and producers are bounded per tenant (the first ones seen; later ones count as `other`), so a
 * careless or hostile client grows neither Prometheus series nor stored aggregates without bound.
 */
export class QualityTallier {
  readonly #scenarios: BoundedLabels;
  readonly #fields: BoundedLabels;
  readonly #producers: BoundedLabels;

  constructor(bounds: { scenarios: number; fields: number; producers: number }) {
    this.#scenarios = new BoundedLabels(bounds.scenarios);
    this.#fields = new BoundedLabels(bounds.fields);
    this.#producers = new BoundedLabels(bounds.producers);
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
  tally(
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
}
