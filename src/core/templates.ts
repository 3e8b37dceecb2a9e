import * as z from "zod";
import { ActionType } from "./actions.ts";
import { FieldSpec, type FieldType, type ItemType } from "./field-spec.ts";
import { memberOf, SCENARIO_MEMBERS, ScenarioType } from "./scenarios.ts";

const TemplateId = ScenarioType.exclude(["custom"]);

/** A built-in starting point for a tracking config. */
export const Template = z.object({
  template_id: TemplateId,
  name: z.string(),
  scenario_type: TemplateId,
  description: z.string(),
  required_fields: z.array(FieldSpec),
  optional_fields: z.array(FieldSpec),
  typical_actions: z.array(ActionType),
});
export type Template = z.infer<typeof Template>;

/**
 * What each template asks for. Required fields are kept to the one that every typical action
 * of the scenario can carry (few required fields); everything else is optional.
 */
const TEMPLATE_FACTS = {
  video: {
    name: "Video",
    description: "Short video, vlog and video-course feeds",
    required: ["duration"],
    actions: ["impression", "click", "play", "play_end", "pause", "like", "share", "comment"],
  },
  ecommerce: {
    name: "E-commerce",
    description: "Product recommendations, cart and orders",
    required: ["price"],
    actions: ["impression", "click", "view", "add_cart", "order", "payment", "purchase"],
  },
  news: {
    name: "News",
    description: "News and articles",
    required: [],
    actions: ["impression", "click", "read", "read_end", "like", "share", "comment"],
  },
  music: {
    name: "Music",
    description: "Songs and playlists",
    required: ["duration"],
    actions: ["impression", "play", "play_end", "pause", "like", "add_playlist", "share"],
  },
  education: {
    name: "Education",
    description: "Online courses",
    required: ["course_id"],
    actions: ["impression", "click", "learn", "complete", "pause", "trial", "purchase"],
  },
  content: {
    name: "Content",
    description: "Posts, Q&A, galleries and other user-generated content",
    required: ["content_type"],
    actions: ["impression", "click", "view", "read", "like", "comment", "share", "collect", "report"],
  },
  social: {
    name: "Social",
    description: "Friend and follow suggestions",
    required: ["relationship_type"],
    actions: ["impression", "view_profile", "follow", "add_friend", "message", "ignore", "block"],
  },
  personalized: {
    name: "Personalized feed",
    description: "Blended personalised feeds",
    required: [],
    actions: ["impression", "click", "positive_feedback", "negative_feedback", "dismiss", "not_interested"],
  },
} as const satisfies Record<
  Template["template_id"],
  { name: string; description: string; required: readonly string[]; actions: readonly ActionType[] }
>;

interface JsonSchemaNode {
  type?: string;
  description?: string;
  minimum?: number;
  maximum?: number;
  enum?: string[];
  items?: JsonSchemaNode;
  additionalProperties?: JsonSchemaNode | boolean;
}

const FIELD_TYPE_OF: Record<string, FieldType> = {
  integer: "integer",
  number: "float",
  string: "string",
  boolean: "boolean",
  array: "array",
  object: "object",
};

/** zod writes the safe-integer range onto every z.int(); that is no rule of ours. */
const bound = (value: number | undefined) =>
  value === undefined || Math.abs(value) === Number.MAX_SAFE_INTEGER ? undefined : value;

/** Turns one property of a member's JSON Schema into a field spec. */
const toFieldSpec = (name: string, node: JsonSchemaNode, required: boolean): FieldSpec => {
  const fieldType = FIELD_TYPE_OF[node.type ?? ""];
  if (fieldType === undefined) throw new Error(`scenario field ${name} has no field type`);
  const element =
    fieldType === "array"
      ? node.items
      : typeof node.additionalProperties === "object"
        ? node.additionalProperties
        : undefined;
  const checked = element ?? node;
  const spec: FieldSpec = { field_name: name, field_type: fieldType, required };
  if (element?.type !== undefined) spec.item_type = FIELD_TYPE_OF[element.type] as ItemType;
  if (node.description !== undefined) spec.description = node.description;
  const min = bound(checked.minimum);
  const max = bound(checked.maximum);
  if (min !== undefined) spec.min_value = min;
  if (max !== undefined) spec.max_value = max;
  if (checked.enum !== undefined) spec.allowed_values = checked.enum;
  return spec;
};

/** The field specs that express a scenario member schema, so templates and schemas never disagree. */
export const fieldSpecsOf = (
  type: Exclude<ScenarioType, "custom">,
  required: readonly string[],
): FieldSpec[] => {
  const schema = z.toJSONSchema(SCENARIO_MEMBERS[memberOf(type)], { io: "input" }) as {
    properties: Record<string, JsonSchemaNode>;
  };
  return Object.entries(schema.properties).map(([name, node]) =>
    toFieldSpec(name, node, required.includes(name)),
  );
};

const buildTemplate = (type: Template["template_id"]): Template => {
  const facts = TEMPLATE_FACTS[type];
  const fields = fieldSpecsOf(type, facts.required);
  return {
    template_id: type,
    name: facts.name,
    scenario_type: type,
    description: facts.description,
    required_fields: fields.filter((f) => f.required),
    optional_fields: fields.filter((f) => !f.required),
    typical_actions: [...facts.actions],
  };
};

export const TEMPLATES: readonly Template[] = (Object.keys(TEMPLATE_FACTS) as Template["template_id"][]).map(
  buildTemplate,
);

export const templateFor = (type: ScenarioType): Template | undefined =>
  TEMPLATES.find((t) => t.scenario_type === type);
