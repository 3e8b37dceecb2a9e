import type * as z from "zod";
import type { ActionType } from "./actions.ts";
import { type Problem, problem } from "./errors.ts";
import { type BehaviorEvent, CONTEXT_KEYS, ENVELOPE_KEYS, EventEnvelope } from "./event.ts";
import {
  compileFieldSpecs,
  type FieldChecker,
  type FieldSpec,
  type Issue,
  type IssueCode,
  issue,
} from "./field-spec.ts";
import { defaultEnvironment, type Environment, newEventId } from "./ids.ts";
import { anonymizeIp } from "./ip.ts";
import { isPlainObject } from "./json.ts";
import { MAX_CLOCK_SKEW_MS, MAX_EVENT_BYTES, MAX_EVENTS_PER_BATCH } from "./limits.ts";
import { memberOf, type ScenarioMember, type ScenarioType, typeOfMember } from "./scenarios.ts";
import { structureProblem, UnreadableEvent } from "./structure.ts";
import { templateFor } from "./templates.ts";
import type { TrackingConfig } from "./tracking-config.ts";

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

/** A zod path as field errors name it everywhere: `events[0].context.os`. */
const formatPath = (path: readonly PropertyKey[]): string => {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
};

const kindOf = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "array" : typeof value;

/** Plain-language messages for zod's default issues; messages written on the schemas take precedence. */
const envelopeMessages: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case "invalid_type":
      return iss.input === undefined
        ? "is required"
        : `must be ${iss.expected === "int" ? "an integer" : `a ${iss.expected}`}, got ${kindOf(iss.input)}`;
    case "invalid_value":
      return `must be one of ${iss.values.map(String).join(", ")}`;
    case "too_small":
      return iss.origin === "string"
        ? `must be at least ${iss.minimum} characters`
        : `must be at least ${iss.minimum}`;
    case "too_big":
      return iss.origin === "string"
        ? `must be at most ${iss.maximum} characters`
        : `must be at most ${iss.maximum}`;
    case "invalid_union":
      return "is not a valid value";
    case "invalid_format":
      return `is not a valid ${iss.format}`;
    default:
      return undefined;
  }
};
/** Used only to explain a failed parse: the error map and input reporting slow down the accepting path. */
const EXPLAIN_PARAMS = { error: envelopeMessages, reportInput: true };

const issueCodeOf = (iss: z.core.$ZodIssue): IssueCode => {
  switch (iss.code) {
    case "invalid_type":
      return iss.input === undefined ? "required" : "invalid_type";
    case "too_small":
    case "too_big":
      return iss.code;
    default:
      return "invalid_value";
  }
};

/**
 * Zod's issues as field problems, the one way every schema's failures are reported (events, admin
 * requests, tracking configs): one path format, our issue codes, and a message that starts with the
 * path, or with `subject` when the whole value is at fault.
 */
export const issuesOfZod = (issues: readonly z.core.$ZodIssue[], subject = "the value"): Issue[] =>
  issues.map((iss) => {
    const path = formatPath(iss.path);
    return { path, code: issueCodeOf(iss), message: `${path === "" ? subject : path} ${iss.message}` };
  });

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

/**
 * The body of a batch call: `{ "events": [...] }` with 1 to {@link MAX_EVENTS_PER_BATCH} entries.
 * The entries are validated one by one afterwards, so one bad event does not fail the others.
 */
export const parseBatch = (
  input: unknown,
): { ok: true; events: unknown[] } | { ok: false; problem: Problem } => {
  if (!isPlainObject(input) || !Array.isArray(input.events)) {
    return {
      ok: false,
      problem: problem("invalid_request", "the body must be an object with an events array", {
        errors: [{ path: "events", message: "events must be an array of events" }],
      }),
    };
  }
  const { events } = input;
  if (events.length === 0) {
    return {
      ok: false,
      problem: problem("invalid_request", "the batch is empty", {
        errors: [{ path: "events", message: "events must hold at least one event" }],
      }),
    };
  }
  if (events.length > MAX_EVENTS_PER_BATCH) {
    return {
      ok: false,
      problem: problem(
        "payload_too_large",
        `a batch holds at most ${MAX_EVENTS_PER_BATCH} events, got ${events.length}`,
        {
          errors: [{ path: "events", message: `events must hold at most ${MAX_EVENTS_PER_BATCH} events` }],
        },
      ),
    };
  }
  return { ok: true, events };
};

/** UTF-8 length of a string without allocating; lone surrogates count as the 3 bytes of U+FFFD. */
export const utf8ByteLength = (text: string): number => {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (
      code >= 0xd800 &&
      code <= 0xdbff &&
      i + 1 < text.length &&
      (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      bytes += 2; // the pair is 2 UTF-16 units and 4 UTF-8 bytes
      i++;
    } else bytes += 2;
  }
  return bytes;
};

/** A lone UTF-16 surrogate as JSON.stringify escapes it (an even run of backslashes before it is text). */
const LONE_SURROGATE = /(?<!\\)(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/;

/**
 * The event as the JSON written to Kafka, or why it cannot be: more than {@link MAX_EVENT_BYTES}
 * (`payload_too_large`), or text that is not Unicode (a lone surrogate, which JSON allows but UTF-8
 * consumers turn into U+FFFD or reject: `invalid_event`).
 */
export const encodeEvent = (
  event: BehaviorEvent,
): { ok: true; json: string } | { ok: false; code: "payload_too_large" | "invalid_event"; error: Issue } => {
  const json = JSON.stringify(event);
  // Each UTF-16 unit is at most 3 UTF-8 bytes, so short events need no count.
  if (json.length * 3 > MAX_EVENT_BYTES) {
    const bytes = utf8ByteLength(json);
    if (bytes > MAX_EVENT_BYTES) {
      return {
        ok: false,
        code: "payload_too_large",
        error: issue("", "too_big", `is ${bytes} bytes as JSON; at most ${MAX_EVENT_BYTES} are allowed`),
      };
    }
  }
  if (json.includes("\\ud") && LONE_SURROGATE.test(json)) {
    return {
      ok: false,
      code: "invalid_event",
      error: issue("", "invalid_value", "contains text that is not valid Unicode (a lone UTF-16 surrogate)"),
    };
  }
  return { ok: true, json };
};
