import {
  create,
  type DescMessage,
  fromBinary,
  fromJson,
  type JsonObject,
  type JsonValue,
  ScalarType,
  toJson,
} from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import {
  type BehaviorEvent as BehaviorEventMessage,
  BehaviorEventSchema,
  type ValidationIssue as ValidationIssueMessage,
  ValidationIssueSchema,
} from "../gen/recommender/v1/behavior_pb.js";
import type { BehaviorEvent } from "./event.ts";
import { type Issue, issue } from "./field-spec.ts";
import { UnreadableEvent } from "./structure.ts";

/**
 * The one mapping between the protobuf messages of protos/recommender/v1/behavior.proto and the
 * core event. The proto uses the JSON field names of the REST API, so the mapping is the protobuf
 * JSON mapping plus two differences: enums are `play_end` in JSON and `ACTION_TYPE_PLAY_END` in
 * protobuf, and 64-bit integers are numbers in our JSON but strings in protobuf's.
 */

const ENUM_PREFIXES: Record<string, string> = { action_type: "ACTION_TYPE_", device_type: "DEVICE_TYPE_" };

const isObject = (value: JsonValue | undefined): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Field names holding 64-bit integers in a message and the messages nested in it. */
const int64Fields = (desc: DescMessage, seen = new Set<DescMessage>()): Set<string> => {
  const names = new Set<string>();
  if (seen.has(desc)) return names;
  seen.add(desc);
  for (const field of desc.fields) {
    if (
      field.fieldKind === "scalar" &&
      [ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64].includes(field.scalar)
    ) {
      names.add(field.name);
    }
    if (field.fieldKind === "message" && field.message.typeName !== "google.protobuf.Struct") {
      for (const name of int64Fields(field.message, seen)) names.add(name);
    }
  }
  return names;
};
const INT64_FIELDS = int64Fields(BehaviorEventSchema);

/** Rewrites enum values and 64-bit integers, in place, throughout the typed part of an event. */
const rewrite = (json: JsonObject, direction: "to-core" | "to-proto"): JsonObject => {
  for (const [key, value] of Object.entries(json)) {
    const prefix = ENUM_PREFIXES[key];
    if (prefix !== undefined && typeof value === "string") {
      json[key] =
        direction === "to-core"
          ? value.startsWith(prefix)
            ? value.slice(prefix.length).toLowerCase()
            : value
          : `${prefix}${value.toUpperCase()}`;
    } else if (direction === "to-core" && INT64_FIELDS.has(key) && typeof value === "string") {
      json[key] = Number(value);
    } else if (isObject(value) && key !== "extra_data" && key !== "custom_data") {
      rewrite(value, direction);
    }
  }
  return json;
};

/**
 * JSON has no NaN or Infinity, and protobuf's JSON mapping refuses them in a `google.protobuf.Struct`
 * (it throws) while it writes them as the strings "NaN", "Infinity", "-Infinity" for double fields.
 * Free JSON (extra_data, custom_data) gets the same strings, so a legal gRPC message always maps to an
 * event. In place: the message is the decoded request, which nothing else reads. Its depth is bounded
 * by protobuf's decoders (100 messages, some 50 levels of Struct), binary and JSON alike.
 */
const finiteJson = (value: JsonValue): JsonValue => {
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = finiteJson(value[i] as JsonValue);
  } else if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) value[key] = finiteJson(item);
  }
  return value;
};

/**
 * Adds to `out` (an event as JSON) the members of `sent` (the JSON a client sent for it) that the
 * message has no field for, through the messages both hold, as a JSON body would carry them. Own
 * properties, so that a `__proto__` member stays a member (and is warned about), never a prototype.
 */
const keepUnknownFields = (desc: DescMessage, sent: unknown, out: JsonObject): void => {
  if (!isObject(sent as JsonValue)) return;
  for (const [key, value] of Object.entries(sent as JsonObject)) {
    const field = desc.fields.find((f) => f.name === key || f.jsonName === key);
    if (field === undefined) {
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    } else if (field.fieldKind === "message" && field.message.typeName !== "google.protobuf.Struct") {
      const inner = out[field.name];
      if (isObject(inner)) keepUnknownFields(field.message, value, inner);
      else if (isObject(value)) {
        const only: JsonObject = {};
        keepUnknownFields(field.message, value, only);
        if (Object.keys(only).length > 0) out[field.name] = only;
      }
    }
  }
};

/**
 * Adds to `out` (an event as JSON) a member `#<number>` for each field of the event and of its context
 * that the contract has no field for (a client built from a newer .proto, a misnumbered field). Binary
 * protobuf carries numbers, not names, and the decoder sets such fields aside; named so, validation
 * drops them with an `unknown_field` warning as it drops a JSON body's unknown members there, instead
 * of their vanishing in silence. (Scenario data keeps unknown members for its tracking config to judge,
 * and a member without a name is nothing to keep: unknown numbers there are ignored.)
 */
const keepUnknownNumbers = (message: BehaviorEventMessage, out: JsonObject): void => {
  for (const { no } of message.$unknown ?? []) out[`#${no}`] = null;
  if (isObject(out.context))
    for (const { no } of message.context?.$unknown ?? []) out.context[`#${no}`] = null;
};

/**
 * A protobuf event as the JSON object `validateEvent` takes. Unset fields are left out, so missing
 * required fields are reported by validation like on every other path. `sent`: the JSON the message
 * was decoded from (Connect JSON), whose fields the message has none for are kept, so that validation
 * treats them as it treats them in an HTTP body (a warning, or a refusal where HTTP refuses). Never
 * throws.
 */
export const eventFromProto = (message: BehaviorEventMessage, sent?: unknown): JsonObject => {
  if (message.extraData !== undefined) finiteJson(message.extraData);
  const data = message.scenarioData?.data;
  if (data?.case === "customData") finiteJson(data.value);
  const json = rewrite(
    toJson(BehaviorEventSchema, message, { useProtoFieldName: true }) as JsonObject,
    "to-core",
  );
  if (sent !== undefined) keepUnknownFields(BehaviorEventSchema, sent, json);
  return json;
};

/**
 * Why an event's bytes do not decode, named by the first field that does not decode on its own: a
 * string that is not UTF-8 (protobuf requires it), a Struct nested past protobuf's recursion limit, a
 * field cut short. Without a field to blame (the framing itself is broken), the event as a whole.
 */
const undecodable = (bytes: Uint8Array, error: unknown): Issue => {
  const why = (failure: unknown) =>
    // A fatal TextDecoder throws TypeError on bytes that are not UTF-8; the rest are the reader's own.
    failure instanceof TypeError
      ? "is not valid UTF-8"
      : `could not be decoded as protobuf: ${failure instanceof Error ? failure.message : String(failure)}`;
  const reader = new BinaryReader(bytes);
  try {
    while (reader.pos < reader.len) {
      const start = reader.pos;
      const [number, wireType] = reader.tag();
      reader.skip(wireType, number);
      try {
        fromBinary(BehaviorEventSchema, bytes.subarray(start, reader.pos));
      } catch (failure) {
        const field = BehaviorEventSchema.fields.find((f) => f.number === number);
        return issue(field?.name ?? "", "invalid_value", why(failure));
      }
    }
  } catch {
    // The framing is broken where the reader stopped: no field to name.
  }
  return issue("", "invalid_value", why(error));
};

/**
 * A protobuf event from its bytes, as `validateEvent` takes it, or an {@link UnreadableEvent} naming the
 * field that does not decode. Decoding each event of a call on its own is what lets one undecodable
 * event be refused alone (INVALID_ARGUMENT for a single event) while the others of a batch are taken.
 * Never throws.
 */
export const eventFromProtoBytes = (bytes: Uint8Array): JsonObject | UnreadableEvent => {
  let message: BehaviorEventMessage;
  try {
    message = fromBinary(BehaviorEventSchema, bytes);
  } catch (error) {
    return new UnreadableEvent(undecodable(bytes, error));
  }
  const json = eventFromProto(message);
  keepUnknownNumbers(message, json);
  return json;
};

/** A validated core event as a protobuf message (the edge forwards events to the relay this way). */
export const eventToProto = (event: BehaviorEvent): BehaviorEventMessage => {
  const json = rewrite(JSON.parse(JSON.stringify(event)) as JsonObject, "to-proto");
  return fromJson(BehaviorEventSchema, json);
};

export const issueToProto = (issue: Issue): ValidationIssueMessage =>
  create(ValidationIssueSchema, { path: issue.path, code: issue.code, message: issue.message });
