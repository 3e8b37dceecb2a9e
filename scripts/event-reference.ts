import * as z from "zod";
import {
  ACTION_TYPES,
  BehaviorContext,
  BehaviorEventInput,
  EXAMPLE_EVENTS,
  type FieldSpec,
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
