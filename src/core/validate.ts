import type { ActionType } from "./actions.ts";
import { type BehaviorEvent, CONTEXT_KEYS, ENVELOPE_KEYS, EventEnvelope } from "./event.ts";
import { compileFieldSpecs, type FieldChecker, type FieldSpec, type Issue, issue } from "./field-spec.ts";
import { defaultEnvironment, type Environment, newEventId } from "./ids.ts";
import { anonymizeIp } from "./ip.ts";
import { isPlainObject } from "./json.ts";
import { MAX_CLOCK_SKEW_MS } from "./limits.ts";
import { memberOf, type ScenarioMember, type ScenarioType, typeOfMember } from "./scenarios.ts";
import { structureProblem, UnreadableEvent } from "./structure.ts";
import { templateFor } from "./templates.ts";
import type { TrackingConfig } from "./tracking-config.ts";
import { EXPLAIN_PARAMS, issuesOfZod, kindOf } from "./zod-issues.ts";

export interface ValidateOptions {
  /**
   * Who stamped a `received_at` the input carries: a `client` (the default; its clock is kept as
   * `client_received_at`) or a `server` that received the event first (kept as it is).
   */
  receivedBy?: "client" | "server";
}

export type ValidationResult =
  | { ok: true; event: BehaviorEvent; errors: []; warnings: Issue[] }
  | { ok: false; event: undefined; errors: Issue[]; warnings: Issue[] };

/** How the scenario part of an event is checked: by a tracking config, or by a built-in template. */
interface ScenarioRules {
  member: ScenarioMember;
  checkFields: FieldChecker | undefined;
  typicalActions: ReadonlySet<ActionType> | undefined;
}

const rulesOf = (
  type: ScenarioType,
  specs: readonly FieldSpec[] | undefined,
  actions: readonly ActionType[] | undefined,
): ScenarioRules => ({
  member: memberOf(type),
  checkFields: specs && compileFieldSpecs(specs),
  typicalActions: actions && new Set(actions),
});

/** Rules for events with no tracking config: the built-in template of the member they carry; custom data is free. */
const TEMPLATE_RULES = new Map<ScenarioMember, ScenarioRules>();
const templateRules = (member: ScenarioMember): ScenarioRules => {
  let rules = TEMPLATE_RULES.get(member);
  if (rules === undefined) {
    const template = templateFor(typeOfMember(member));
    rules = rulesOf(
      typeOfMember(member),
      template && [...template.required_fields, ...template.optional_fields],
      template?.typical_actions,
    );
    TEMPLATE_RULES.set(member, rules);
  }
  return rules;
};

/**
 * A config's fields are checked on top of its template's: fields the config names are checked as
 * it says (including whether they are required); the template's other fields keep their types and
 * ranges but are never required. Compiled once per config object.
 */
const CONFIG_RULES = new WeakMap<TrackingConfig, ScenarioRules>();
const configRules = (config: TrackingConfig): ScenarioRules => {
  let rules = CONFIG_RULES.get(config);
  if (rules === undefined) {
    const template = templateFor(config.scenario_type);
    const own = [...config.required_fields, ...config.optional_fields];
    const named = new Set(own.map((spec) => spec.field_name));
    const inherited = [...(template?.required_fields ?? []), ...(template?.optional_fields ?? [])]
      .filter((spec) => !named.has(spec.field_name))
      .map((spec) => ({ ...spec, required: false }));
    rules = rulesOf(
      config.scenario_type,
      [...own, ...inherited],
      config.typical_actions ?? template?.typical_actions,
    );
    CONFIG_RULES.set(config, rules);
  }
  return rules;
};

const warnUnknownKeys = (
  input: Record<string, unknown>,
  known: ReadonlySet<string>,
  prefix: string,
  out: Issue[],
): void => {
  for (const key of Object.keys(input)) {
    if (!known.has(key)) {
      out.push(
        issue(`${prefix}${key}`, "unknown_field", "is not an event field and was dropped; use extra_data"),
      );
    }
  }
};

/**
 * Checks one event (any JSON value) and returns it normalised: `event_id` and `timestamp` filled
 * when absent, unknown envelope keys dropped. Envelope problems are errors and reject the event.
 * Scenario problems (data not matching the tracking config, an untypical action) are warnings,
 * or errors when the config is strict. Never throws.
 *
 * `config` is the tracking config of the event's (tenant_id, scenario_id), looked up by the caller;
 * `undefined` when there is none.
 *
 * `received_at` is this server's clock: a value sent is the client's, and moves to
 * `client_received_at`, unless `options.receivedBy` says a server already stamped it (the edge's
 * signed forwards, which the relay checks again).
 */
export const validateEvent = (
  input: unknown,
  config?: TrackingConfig,
  env: Environment = defaultEnvironment,
  options: ValidateOptions = {},
): ValidationResult => {
  const warnings: Issue[] = [];
  if (input instanceof UnreadableEvent)
    return { ok: false, event: undefined, errors: [input.problem], warnings };
  if (!isPlainObject(input)) {
    return {
      ok: false,
      event: undefined,
      errors: [issue("", "invalid_type", `must be a JSON object, got ${kindOf(input)}`)],
      warnings,
    };
  }
  // First, before anything reads further: hostile structure is refused by the path of its field.
  const hostile = structureProblem(input);
  if (hostile !== undefined) return { ok: false, event: undefined, errors: [hostile], warnings };
  const parsed = EventEnvelope.safeParse(input);
  if (!parsed.success) {
    const explained = EventEnvelope.safeParse(input, EXPLAIN_PARAMS);
    const errors = issuesOfZod((explained.error ?? parsed.error).issues, "the event");
    return { ok: false, event: undefined, errors, warnings };
  }
  const event = parsed.data as BehaviorEvent;
  warnUnknownKeys(input, ENVELOPE_KEYS, "", warnings);
  if (isPlainObject(input.context)) warnUnknownKeys(input.context, CONTEXT_KEYS, "context.", warnings);

  const now = env.now();
  event.event_id ??= newEventId(env);
  if (options.receivedBy !== "server") {
    if (event.received_at !== undefined) event.client_received_at ??= event.received_at;
    event.received_at = now;
  } else event.received_at ??= now;
  if (event.timestamp === undefined) event.timestamp = now;
  else if (event.timestamp > now + MAX_CLOCK_SKEW_MS) {
    warnings.push(
      issue("timestamp", "clock_skew", `is more than ${MAX_CLOCK_SKEW_MS / 60_000} minutes in the future`),
    );
  }

  // Which rules the event passed, so it can be checked again against its config's version later; a
  // deleted config's rules are not applied, so an event checked against one names none.
  if (config?.is_active === true) {
    event.config_version = config.version;
    if (config.anonymize_ip && event.context.ip !== undefined)
      event.context.ip = anonymizeIp(event.context.ip);
  } else delete event.config_version;

  const scenarioIssues: Issue[] = [];
  const strict = checkScenario(event, config, scenarioIssues, warnings);
  if (strict && scenarioIssues.length > 0) {
    return { ok: false, event: undefined, errors: scenarioIssues, warnings };
  }
  warnings.push(...scenarioIssues);
  return { ok: true, event, errors: [], warnings };
};

/** Collects the scenario issues of an event; returns whether they are errors (strict config). */
const checkScenario = (
  event: BehaviorEvent,
  config: TrackingConfig | undefined,
  scenarioIssues: Issue[],
  warnings: Issue[],
): boolean => {
  const data = event.scenario_data as Record<string, Record<string, unknown>> | undefined;
  const carried = data && (Object.keys(data)[0] as ScenarioMember);
  let rules: ScenarioRules | undefined;
  if (config === undefined) {
    warnings.push(
      issue(
        "scenario_id",
        "no_config",
        `has no tracking config for tenant ${event.tenant_id}; only built-in rules were checked`,
      ),
    );
  } else if (!config.is_active) {
    warnings.push(
      issue(
        "scenario_id",
        "inactive_config",
        "has a deleted tracking config; only built-in rules were checked",
      ),
    );
  } else {
    rules = configRules(config);
  }

  if (rules !== undefined && carried !== undefined && carried !== rules.member) {
    scenarioIssues.push(
      issue(
        `scenario_data.${carried}`,
        "scenario_mismatch",
        `does not match the ${config?.scenario_type} scenario; expected ${rules.member}`,
      ),
    );
    rules = undefined;
  }
  rules ??= carried && templateRules(carried);
  if (rules === undefined) return false;

  if (rules.typicalActions !== undefined && !rules.typicalActions.has(event.action_type)) {
    scenarioIssues.push(
      issue(
        "action_type",
        "unexpected_action",
        `${event.action_type} is not a typical action of this scenario`,
      ),
    );
  }
  if (rules.checkFields !== undefined) {
    rules.checkFields(data?.[rules.member] ?? {}, `scenario_data.${rules.member}`, scenarioIssues);
  }
  return config?.is_active === true && config.strict;
};
