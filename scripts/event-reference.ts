import * as z from "zod";
import {
  ACTION_TYPES,
  BehaviorContext,
  BehaviorEventInput,
  EXAMPLE_EVENTS,
  type FieldSpec,
  MAX_EVENT_BYTES,
  MAX_EVENTS_PER_BATCH,
  MAX_JSON_DEPTH,
  MAX_KEY_LENGTH,
  MAX_OBJECT_KEYS,
  MAX_REQUEST_BYTES,
  MAX_SAFE_NUMBER,
  MAX_STRING_LENGTH,
  memberOf,
  TEMPLATES,
  TrackingConfigDefinition,
} from "../src/core/index.ts";

interface Node {
  type?: string;
  description?: string;
  enum?: string[];
  anyOf?: Node[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
}

const typeOf = (node: Node): string => {
  if (node.enum) return node.enum.length > 8 ? `one of ${node.enum.length} values` : node.enum.join(" \\| ");
  if (node.anyOf) return [...new Set(node.anyOf.map(typeOf))].join(" or ");
  return node.type ?? "any";
};

/** A markdown table of an object schema's properties: name, type, required, description. */
const propertyTable = (schema: z.ZodType, skip: readonly string[] = []) => {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as {
    properties: Record<string, Node>;
    required?: string[];
  };
  const rows = Object.entries(json.properties)
    .filter(([name]) => !skip.includes(name))
    .map(
      ([name, node]) =>
        `| \`${name}\` | ${typeOf(node)} | ${json.required?.includes(name) ? "yes" : ""} | ${(node.description ?? "").replaceAll("|", "\\|")} |`,
    );
  return ["| field | type | required | meaning |", "| --- | --- | --- | --- |", ...rows].join("\n");
};

const rule = (spec: FieldSpec) =>
  [
    spec.item_type ? `${spec.field_type} of ${spec.item_type}` : spec.field_type,
    spec.min_value !== undefined ? `≥ ${spec.min_value}` : "",
    spec.max_value !== undefined ? `≤ ${spec.max_value}` : "",
    spec.allowed_values ? `one of ${spec.allowed_values.join(", ")}` : "",
  ]
    .filter((part) => part !== "")
    .join(", ");

/**
 * docs/events.md: the event model, the scenario types and their templates, and the tracking config,
 * written from the zod schemas of src/core (`npm run gen:schemas`; a test fails when it is stale).
 */
export const eventReference = (): string => {
  const templates = TEMPLATES.map((t) => {
    const member = memberOf(t.scenario_type);
    const fields = [...t.required_fields, ...t.optional_fields].map(
      (f) => `| \`${f.field_name}\` | ${rule(f)} | ${f.required ? "yes" : ""} | ${f.description ?? ""} |`,
    );
    return [
      `### ${t.name} — \`${t.template_id}\`, data in \`scenario_data.${member}\``,
      "",
      `${t.description}. Typical actions: ${t.typical_actions.map((a) => `\`${a}\``).join(", ")}.`,
      "",
      ...(fields.length > 0
        ? ["| field | type and range | required | meaning |", "| --- | --- | --- | --- |", ...fields]
        : ["Free fields: the tenant's config names them."]),
    ].join("\n");
  });
  return `<!-- Generated from src/core by npm run gen:schemas; do not edit. -->
# Events, scenarios and tracking configs

Every path (the edge, the relay's REST and gRPC APIs, the Kafka-direct tracker) takes the same event
and checks it with the same rules (docs/validation.md). JSON Schemas of all of it are in \`schemas/\`.

## The event

${propertyTable(BehaviorEventInput)}

\`action_type\` is one of ${ACTION_TYPES.map((a) => `\`${a}\``).join(", ")}. Servers set
\`received_at\` and \`config_version\`; a value a client sends for them is replaced.

\`context\`, where it happened:

${propertyTable(BehaviorContext)}

An example, as an app sends it:

\`\`\`json
${JSON.stringify(EXAMPLE_EVENTS.video_data, null, 2)}
\`\`\`

## Size and structure

An event is at most ${MAX_EVENT_BYTES / 1024} KiB as UTF-8 JSON (413 \`payload_too_large\` beyond), a batch holds at most
${MAX_EVENTS_PER_BATCH} events and a request body at most ${MAX_REQUEST_BYTES / 1024 / 1024} MiB. Free-form fields (\`extra_data\`, \`custom_data\`, unknown keys)
take any JSON, and hostile JSON is legal JSON, so every event's structure is checked first, on every path,
before anything else reads it and before anything is written. An event beyond one of these limits is
refused on its own (400 \`invalid_event\`, gRPC \`INVALID_ARGUMENT\`; in a batch only that event), with the path
of the field and the code \`too_big\` (docs/errors.md):

| limit | value | the refusal names |
| --- | --- | --- |
| levels of objects and arrays under a field of the event (\`extra_data\` itself is level 1) | ${MAX_JSON_DEPTH} | the field: \`extra_data\`, \`scenario_data.custom_data\` |
| keys of one object, the event's own included | ${MAX_OBJECT_KEYS} | the object (\`extra_data.tags\`; the event: \`""\`) |
| characters (UTF-16 units) of one key | ${MAX_KEY_LENGTH} | the object holding the key |
| characters (UTF-16 units) of one string | ${MAX_STRING_LENGTH.toLocaleString("en")} | the string (\`extra_data.note\`) |
| magnitude of a number | ${MAX_SAFE_NUMBER.toLocaleString("en")} (2^53 − 1) | the number (\`extra_data.ids[2]\`) |

**Integers beyond 2^53 are refused, not carried.** JSON does not say how precisely a number is to be read,
and the readers on the way read doubles: JavaScript (the edge, the relay, the SDKs), protobuf's
\`Struct\` (\`extra_data\` over gRPC) and most stream processors. A double holds every integer up to
2^53 − 1 = ${MAX_SAFE_NUMBER.toLocaleString("en")} exactly and no longer all of them beyond: \`9007199254740993\` is already
\`9007199254740992\` once parsed, and would be stored as a number no one sent, without a word. So a number
whose magnitude is above 2^53 − 1, anywhere in an event (free-form fields, scenario data, a gRPC \`int64\`
field alike), refuses the event with its path; send such values, 64-bit ids for instance, as strings.
Numbers within the range, integers and fractions, are carried exactly as parsed.

From a JavaScript caller (the Kafka-direct tracker) a value JSON cannot carry is refused the same way
rather than changed by \`JSON.stringify\`: \`NaN\` and \`Infinity\` (\`invalid_value\`), a \`bigint\` (\`invalid_type\`),
and a cycle (too deep). Over gRPC and Connect, each event of a binary call is decoded on its own: one whose
bytes are not valid protobuf for a \`BehaviorEvent\` (a string that is not UTF-8, which protobuf requires,
or a \`Struct\` nested past protobuf's limit of 100 messages, some 50 levels) is refused alone, naming the
top-level field that does not decode (\`user_id is not valid UTF-8\`).

## Scenario types and their templates

A tenant has scenarios (\`scenario_id\`, e.g. \`vlog_feed\`), each of one of these types. The type decides
which member of \`scenario_data\` its events carry and which fields that member has; a tenant's tracking
config for the scenario starts from the type's template and may narrow ranges, make fields required or
optional, add its own fields and name its typical actions. Fields a config does not require are optional;
problems are warnings unless the config is \`strict\`.

${templates.join("\n\n")}

## The tracking config

${propertyTable(TrackingConfigDefinition)}

Stored configs also carry \`is_active\` (false once deleted), \`version\` (one more on every change; each
event in Kafka names the version it was checked against as \`config_version\`), \`created_at\` and
\`updated_at\`. The admin API (docs/admin-api.md) and the CLI (docs/cli.md) manage them.
`;
};
