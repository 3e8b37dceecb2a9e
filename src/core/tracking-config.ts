import * as z from "zod";
import { ActionType } from "./actions.ts";
import { FieldSpec } from "./field-spec.ts";
import { ScenarioType } from "./scenarios.ts";
import { type Template, templateFor } from "./templates.ts";
import { ScenarioId, TenantId } from "./tenant.ts";

const fieldLists = {
  required_fields: z.array(FieldSpec).max(200).default([]).describe("Fields every event must carry"),
  optional_fields: z.array(FieldSpec).max(200).default([]).describe("Fields events may carry"),
};

/** Field names must be unique across both lists. */
const refineFieldLists = (
  config: { required_fields?: FieldSpec[]; optional_fields?: FieldSpec[] },
  ctx: z.RefinementCtx,
) => {
  const seen = new Set<string>();
  for (const list of ["required_fields", "optional_fields"] as const) {
    config[list]?.forEach((spec, index) => {
      if (seen.has(spec.field_name)) {
        ctx.addIssue({
          code: "custom",
          path: [list, index, "field_name"],
          message: `duplicate field ${spec.field_name}`,
        });
      }
      seen.add(spec.field_name);
    });
  }
};

/**
 * A config may narrow a built-in field (a range, a list of values, make it required) and add its
 * own fields, but not change a built-in field's type: the protobuf contract and every consumer
 * rely on those types.
 */
const refineAgainstTemplate = (
  config: { scenario_type: ScenarioType; required_fields: FieldSpec[]; optional_fields: FieldSpec[] },
  ctx: z.RefinementCtx,
) => {
  const template = templateFor(config.scenario_type);
  if (template === undefined) return;
  const builtIn = new Map(
    [...template.required_fields, ...template.optional_fields].map((f) => [f.field_name, f]),
  );
  for (const list of ["required_fields", "optional_fields"] as const) {
    config[list].forEach((spec, index) => {
      const base = builtIn.get(spec.field_name);
      if (base === undefined) return;
      if (
        base.field_type !== spec.field_type ||
        (base.item_type !== undefined && base.item_type !== spec.item_type)
      ) {
        const expected = base.item_type ? `${base.field_type} of ${base.item_type}` : base.field_type;
        ctx.addIssue({
          code: "custom",
          path: [list, index, "field_type"],
          message: `${spec.field_name} is a built-in ${config.scenario_type} field of type ${expected}`,
        });
      }
    });
  }
};

/** The part of a tracking config a tenant writes (create and replace). */
export const TrackingConfigDefinition = z
  .strictObject({
    tenant_id: TenantId,
    scenario_id: ScenarioId,
    scenario_type: ScenarioType,
    name: z.string().min(1).max(200).describe("Human-readable name"),
    description: z.string().max(2000).default("").describe("What the scenario is"),
    ...fieldLists,
    typical_actions: z
      .array(ActionType)
      .max(31)
      .optional()
      .describe(
        "Actions expected in this scenario; others are accepted with a warning. Defaults to the template's",
      ),
    strict: z
      .boolean()
      .default(false)
      .describe("When true, scenario-data violations reject the event instead of warning"),
    anonymize_ip: z
      .boolean()
      .default(false)
      .describe(
        "When true, context.ip is cut to its network before the event is written: the last octet of an IPv4 address, all but the first 48 bits of an IPv6 one",
      ),
  })
  .superRefine(refineFieldLists)
  .superRefine(refineAgainstTemplate);
export type TrackingConfigDefinition = z.infer<typeof TrackingConfigDefinition>;

/** A stored tracking config: the definition plus its lifecycle. */
export const TrackingConfig = z
  .strictObject({
    ...TrackingConfigDefinition.shape,
    is_active: z.boolean().describe("False once soft-deleted"),
    version: z.int().min(1).describe("Increases by one on every change"),
    created_at: z.int().min(0).describe("Creation time, epoch milliseconds"),
    updated_at: z.int().min(0).describe("Last change, epoch milliseconds"),
  })
  .superRefine(refineFieldLists)
  .superRefine(refineAgainstTemplate);
export type TrackingConfig = z.infer<typeof TrackingConfig>;

/** A new config that starts as a copy of a built-in template (`POST /from-template`). */
export const configFromTemplate = (
  template: Template,
  target: { tenant_id: string; scenario_id: string; name: string },
  now: number,
): TrackingConfig =>
  TrackingConfig.parse({
    tenant_id: target.tenant_id,
    scenario_id: target.scenario_id,
    name: target.name,
    scenario_type: template.scenario_type,
    description: template.description,
    required_fields: template.required_fields,
    optional_fields: template.optional_fields,
    typical_actions: template.typical_actions,
    strict: false,
    is_active: true,
    version: 1,
    created_at: now,
    updated_at: now,
  });
