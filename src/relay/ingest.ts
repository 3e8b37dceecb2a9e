import type { Logger } from "pino";
import {
  ApiError,
  authorizeEvents,
  BoundedLabels,
  checkEvent,
  checkEvents,
  type Environment,
  type EventOutcome,
  fieldErrorsOf,
  type Issue,
  isAuthorizedEvent,
  quarantineRecord,
  quarantineTenantOf,
  type Refusal,
  refuseUnwritten,
  settle,
} from "../core/index.ts";
import { type EventRecord, type RecordSink, TopicsUnwrittenError } from "../kafka/records.ts";
import { Admission, type AdmissionLimits } from "./admission.ts";
import { hashKey, type KeyStore, type Principal, writerTenantOf } from "./auth.ts";
import type { ConfigSource } from "./config-source.ts";
import { type HealthReport, healthReport } from "./health.ts";
import type { RelayMetrics } from "./metrics.ts";
import type { QualityRecorder } from "./quality.ts";

interface IngestDeps extends AdmissionLimits {
  configs: ConfigSource;
  keys: KeyStore;
  sink: RecordSink;
  metrics: RelayMetrics;
  log: Logger;
  env?: Environment;
  /** Counts each call's verdicts by tenant and scenario for the quality API; none in some unit tests. */
  quality?: QualityRecorder;
}

/** Calls refused for topics that could not be stored are logged at most this often. */
const UNSTORED_LOG_INTERVAL_MS = 10_000;

/**
 * The relay's ingest logic, shared by REST and gRPC: authorise, validate against the tenant's
 * tracking config, write accepted events durably to the tenant's topic, and quarantine refused ones
 * (with the reason) in the tenant's -rejected topic. Every outcome is counted.
 */
export class IngestService {
  readonly deps: IngestDeps;
  readonly #admission: Admission;
  /** When calls refused for topics that could not be stored were last logged, and how many since. */
  #unstored = { loggedAt: Number.NEGATIVE_INFINITY, calls: 0 };
  /** The keys' tenants as metric labels: the first 100 seen, the rest `other`. */
  readonly #keyTenants = new BoundedLabels(100);

  constructor(deps: IngestDeps) {
    this.deps = deps;
    this.#admission = new Admission(deps, deps.metrics);
  }

  /** The caller behind a bearer key, or an unauthenticated error. */
  async authenticate(key: string | undefined): Promise<Principal> {
    const principal = key === undefined ? undefined : await this.deps.keys.principalFor(key);
    if (principal === undefined) {
      throw new ApiError("unauthenticated", "send a secret or service key as Authorization: Bearer <key>");
    }
    return principal.keyId === undefined ? { ...principal, keyId: hashKey(key as string) } : principal;
  }

  /** The answer /track would give, without storing: an event that cannot be written is not valid. */
  async validate(
    input: unknown,
    principal: Principal,
  ): Promise<{ ok: boolean; errors: Issue[]; warnings: Issue[] }> {
    const checked = await checkEvent(input, writerTenantOf(principal), this.#configFor, this.deps.env);
    if (!checked.ok && checked.code === "forbidden") {
      throw new ApiError("forbidden", checked.message, fieldErrorsOf(checked.errors));
    }
    return checked.ok ? { ok: true, errors: [], warnings: checked.warnings } : checked;
  }

  async track(input: unknown, principal: Principal): Promise<EventOutcome> {
    const [outcome] = await this.trackBatch([input], principal);
    return outcome as EventOutcome;
  }

  /**
   * Authorizes, charges, then validates each event on its own; the accepted ones are written together,
   * as one durable batch. Events the caller may not write are charged to the caller's key and counted
   * under it: never to the tenant they name, whose quota and quality figures stay its own.
   */
  async trackBatch(inputs: readonly unknown[], principal: Principal): Promise<EventOutcome[]> {
    const { metrics, quality } = this.deps;
    const started = performance.now();
    const source = principal.kind === "edge" ? "edge" : "relay";
    metrics.received.inc(inputs.length);
    const writer = writerTenantOf(principal);
    const authorization = authorizeEvents(inputs, writer);
    /** What a refusal of the whole call counts in the quality figures: only the caller's own tenants' events. */
    const authorized =
      authorization.forbidden === 0 ? inputs : inputs.filter((input) => isAuthorizedEvent(input, writer));
    let release: () => void;
    try {
      release = this.#admission.enter(inputs.length, principal, authorization.byTenant);
    } catch (error) {
      if (error instanceof ApiError)
        quality?.refusedCall(source, authorized, error.code, performance.now() - started);
      throw error;
    }
    try {
      if (authorization.forbidden > 0 && principal.kind === "tenant") {
        metrics.forbidden.inc(
          { key_tenant: this.#keyTenants.label("", principal.tenantId) },
          authorization.forbidden,
        );
      }
      const outcomes = await this.#trackBatch(inputs, principal);
      // Events may be written by now: a failure to count them must never become the call's answer.
      try {
        quality?.call(source, inputs, outcomes, performance.now() - started);
      } catch (error) {
        this.deps.log.error({ err: error }, "the quality counts of a call were lost");
      }
      return outcomes;
    } finally {
      release();
    }
  }

  /**
   * Logs events that could not be stored. A tenant whose topic is missing has each call refused so for
   * as long as it lasts, which logged an error with a stack per call: those are logged once per 10 s
   * with the calls refused since (the metrics and the TenantTopicSpooling alert name the topic); any
   * other failure each time.
   */
  #logUnstored(error: unknown, unwritten: ReadonlySet<string> | undefined): void {
    if (unwritten === undefined) {
      this.deps.log.error({ err: error }, "events could not be stored");
      return;
    }
    this.#unstored.calls++;
    const now = performance.now();
    if (now - this.#unstored.loggedAt < UNSTORED_LOG_INTERVAL_MS) return;
    this.deps.log.warn(
      { topics: [...unwritten], calls: this.#unstored.calls, reason: (error as Error).message },
      "calls refused retryably: their topics' events could not be stored (calls since the last such message)",
    );
    this.#unstored = { loggedAt: now, calls: 0 };
  }

  async #trackBatch(inputs: readonly unknown[], principal: Principal): Promise<EventOutcome[]> {
    const { metrics } = this.deps;
    // The edge stamped received_at when it received the events; anyone else's is their own clock.
    const receivedBy = principal.kind === "edge" ? "server" : "client";
    const checked = await checkEvents(inputs, writerTenantOf(principal), this.#configFor, this.deps.env, {
      receivedBy,
    });
    const settlement = settle(inputs, checked);
    let { outcomes } = settlement;
    // Not awaited: the caller's answer does not depend on it; a failure is counted and logged.
    if (settlement.refusals.length > 0)
      void this.quarantine(settlement.refusals).catch(() => "counted and logged by quarantine");
    if (settlement.records.length > 0) {
      try {
        await this.deps.sink.write(settlement.records);
      } catch (error) {
        const unwritten = error instanceof TopicsUnwrittenError ? error.topics : undefined;
        this.#logUnstored(error, unwritten);
        outcomes = refuseUnwritten(settlement, unwritten, "the relay cannot store events right now; retry");
      }
    }
    let accepted = 0;
    let warned = 0;
    for (const outcome of outcomes) {
      if (!outcome.ok) metrics.rejected.inc({ reason: outcome.code });
      else {
        accepted++;
        if (outcome.warnings.length > 0) warned++;
      }
    }
    metrics.accepted.inc(accepted);
    metrics.warnings.inc(warned);
    return outcomes;
  }

  readonly #configFor = (tenantId: string, scenarioId: string) => this.deps.configs.get(tenantId, scenarioId);

  /**
   * Keeps refused events, with the reason, in their tenants' -rejected topics; resolves once they are
   * durable (in Kafka or the spool) with how many were kept. Only events of a valid tenant are kept:
   * callers refuse a forged tenant id (forbidden) before, and it must not reach anyone's topic.
   */
  async quarantine(refusals: readonly Refusal[], refusedBy?: "edge"): Promise<number> {
    // The edge's refusals reach the relay only here: its quality counts them as the edge's verdicts.
    if (refusedBy !== undefined) {
      const verdicts = refusals.map((r) => ({ ok: false, code: r.reason, errors: r.errors, warnings: [] }));
      this.deps.quality?.call(
        refusedBy,
        refusals.map((r) => r.event),
        verdicts,
        0,
      );
    }
    const now = this.deps.env ? this.deps.env.now() : Date.now();
    const records: EventRecord[] = [];
    const reasons: string[] = [];
    for (const refusal of refusals) {
      const tenant = quarantineTenantOf(refusal.event);
      if (tenant === undefined) continue;
      records.push({ ...quarantineRecord(tenant, refusal, now), eventId: "" });
      reasons.push(refusal.reason);
    }
    if (records.length === 0) return 0;
    try {
      await this.deps.sink.write(records);
    } catch (error) {
      this.deps.metrics.quarantineFailures.inc(records.length);
      this.deps.log.warn({ err: error }, "refused events could not be quarantined");
      throw new ApiError("sink_unavailable", "the relay cannot store events right now; retry");
    }
    for (const reason of reasons) this.deps.metrics.quarantined.inc({ reason });
    return records.length;
  }

  health(): Promise<HealthReport> {
    return healthReport(this.deps.metrics, this.deps.sink);
  }
}
