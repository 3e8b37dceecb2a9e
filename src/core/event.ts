import * as z from "zod";
import { ActionType } from "./actions.ts";
import { isPlainObject } from "./json.ts";
import { isScenarioMember, SCENARIO_MEMBERS, ScenarioData } from "./scenarios.ts";
import { ScenarioId, TenantId } from "./tenant.ts";

export const DEVICE_TYPES = ["mobile", "pc", "tablet"] as const;
export const DeviceType = z.enum(DEVICE_TYPES).describe("Kind of device the event came from");
export type DeviceType = z.infer<typeof DeviceType>;

/** Epoch milliseconds before 2001-09-09 are almost always epoch *seconds* sent by mistake. */
export const MIN_TIMESTAMP_MS = 1_000_000_000_000;
/** Year 2286: anything later is not a millisecond timestamp either. */
export const MAX_TIMESTAMP_MS = 9_999_999_999_999;

export const EVENT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export const BehaviorContext = z.object({
  device_type: DeviceType,
  os: z.string().max(128).optional().describe("Operating system, e.g. iOS 17.2"),
  location: z.string().max(256).optional().describe("Coarse location, e.g. a city or country code"),
  ip: z
    .union([z.ipv4(), z.ipv6()])
    .optional()
    .describe("Client IP address; at the edge always the connecting address"),
  bot: z
    .boolean()
    .optional()
    .describe("True when the user agent is a known crawler or HTTP library (set by the edge)"),
});
export type BehaviorContext = z.infer<typeof BehaviorContext>;

/**
 * The shape `scenario_data` must have for an event to be accepted: one known member holding an
 * object. The member's fields are checked afterwards against the tracking config, where problems
 * are warnings unless the config is strict, so they are not part of the envelope.
 */
const ScenarioDataEnvelope = z.custom<Record<string, Record<string, unknown>>>().superRefine((data, ctx) => {
  if (!isPlainObject(data)) {
    ctx.addIssue({ code: "custom", message: "must be an object" });
    return;
  }
  const members = Object.keys(data);
  if (members.length !== 1) {
    ctx.addIssue({
      code: "custom",
      message: `must hold exactly one of ${Object.keys(SCENARIO_MEMBERS).join(", ")}; got ${members.length}`,
    });
    return;
  }
  const [member] = members as [string];
  if (!isScenarioMember(member)) {
    ctx.addIssue({ code: "custom", path: [member], message: "is not a scenario data member" });
  } else if (!isPlainObject(data[member])) {
    ctx.addIssue({ code: "custom", path: [member], message: "must be an object" });
  }
});

const EventId = z
  .string()
  .regex(EVENT_ID_PATTERN, "must be 1–128 characters of letters, digits, and . _ : -")
  .describe("Idempotency key; evt_ + 16 hex characters when the server fills it");

const Timestamp = z
  .int()
  .min(MIN_TIMESTAMP_MS, "must be epoch milliseconds (this looks like seconds or is before 2001)")
  .max(MAX_TIMESTAMP_MS, "must be epoch milliseconds")
  .describe("When it happened, epoch milliseconds; filled by the server when absent");

const envelopeShape = {
  event_id: EventId.optional(),
  tenant_id: TenantId,
  scenario_id: ScenarioId,
  user_id: z
    .string()
    .min(1)
    .max(256)
    .describe("User; the Kafka message key. The anonymous id until the user is known"),
  anonymous_id: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .describe("The device's anonymous id; still sent once the user is identified, which links the two"),
  session_id: z.string().min(1).max(128).optional().describe("The visit the event belongs to"),
  item_id: z.string().min(1).max(256).describe("Recommended item the action is about"),
  action_type: ActionType,
  timestamp: Timestamp.optional(),
  context: BehaviorContext,
  experiment_id: z.string().min(1).max(128).optional().describe("A/B test id"),
  experiment_group: z.string().min(1).max(128).optional().describe("A/B test group, e.g. treatment"),
  // int32 in the gRPC contract: the same range on every path, so no path accepts what another cannot carry.
  position: z
    .int()
    .min(0)
    .max(2_147_483_647)
    .optional()
    .describe("Slot of the item in the list shown, from 0"),
  scenario_data: ScenarioDataEnvelope.optional().describe("Exactly one *_data member"),
  extra_data: z.record(z.string(), z.unknown()).optional().describe("Free JSON"),
  received_at: z
    .int()
    .min(0)
    .optional()
    .describe(
      "When the first server (edge or relay) received it, epoch milliseconds, by the server's clock; a value a client sends is moved to client_received_at",
    ),
  client_received_at: z
    .int()
    .min(0)
    .optional()
    .describe(
      "The received_at a client sent, by the client's own clock, kept apart from the server's; absent when it sent none",
    ),
  config_version: z
    .int()
    .min(1)
    .optional()
    .describe(
      "The version of the tenant's tracking config the event was last checked against; set by the server (a value sent is replaced), absent when there was none",
    ),
};

/** What an incoming event must satisfy to be accepted at all; unknown keys are dropped with a warning. */
export const EventEnvelope = z.object(envelopeShape);

/** The key sets of the envelope and its context, for the unknown-field warnings. */
export const ENVELOPE_KEYS: ReadonlySet<string> = new Set(Object.keys(envelopeShape));
export const CONTEXT_KEYS: ReadonlySet<string> = new Set(Object.keys(BehaviorContext.shape));

/** An event as documented and as written to Kafka: `event_id` and `timestamp` filled, `scenario_data` typed. */
export const BehaviorEvent = EventEnvelope.extend({
  event_id: EventId,
  timestamp: Timestamp,
  scenario_data: ScenarioData.optional().describe("Exactly one *_data member"),
});
export type BehaviorEvent = z.infer<typeof BehaviorEvent>;

/** What a client sends: `event_id` and `timestamp` may be left to the server. */
export const BehaviorEventInput = BehaviorEvent.partial({ event_id: true, timestamp: true });
export type BehaviorEventInput = z.input<typeof BehaviorEventInput>;
