import * as z from "zod";
import { ActionType } from "./actions.ts";
import { FieldSpec } from "./field-spec.ts";
import { TEMPLATES } from "./templates.ts";
import { ScenarioId, TenantId } from "./tenant.ts";

/** `POST /api/v1/tracking-configs/from-template`. */
export const FromTemplateRequest = z.strictObject({
  tenant_id: TenantId,
  scenario_id: ScenarioId,
  template_id: z
    .enum(TEMPLATES.map((t) => t.template_id) as [string, ...string[]])
    .describe("One of the 8 templates"),
  name: z.string().min(1).max(200),
});
export type FromTemplateRequest = z.infer<typeof FromTemplateRequest>;

/**
 * `PUT /api/v1/tracking-configs/{tenant_id}/{scenario_id}`: a partial update. `version`, when given, must
 * be the version the caller read, so that two editors cannot silently overwrite each other.
 */
export const TrackingConfigUpdate = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  description: z.string().max(2000).optional(),
  required_fields: z.array(FieldSpec).max(200).optional(),
  optional_fields: z.array(FieldSpec).max(200).optional(),
  typical_actions: z.array(ActionType).max(31).optional(),
  strict: z.boolean().optional(),
  anonymize_ip: z.boolean().optional(),
  version: z.int().min(1).optional().describe("The version this update is based on"),
});
export type TrackingConfigUpdate = z.infer<typeof TrackingConfigUpdate>;

/** Publishable keys (`pk_`) are write-only and meant for browsers; secret keys (`sk_`) for servers. */
export const ApiKeyKind = z.enum(["publishable", "secret", "service"]);
export type ApiKeyKind = z.infer<typeof ApiKeyKind>;

export const CreateApiKeyRequest = z
  .strictObject({
    kind: ApiKeyKind,
    tenant_id: TenantId.optional().describe(
      "Required for publishable and secret keys; absent for service keys",
    ),
    name: z.string().min(1).max(200).default("key"),
    allowed_origins: z
      .array(z.url({ protocol: /^https?$/ }).max(2048))
      .max(100)
      .default([])
      .describe("Publishable keys: the web origins allowed to use the key"),
  })
  .superRefine((key, ctx) => {
    if (key.kind === "service" && key.tenant_id !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["tenant_id"],
        message: "service keys are for all tenants; leave tenant_id out",
      });
    }
    if (key.kind !== "service" && key.tenant_id === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["tenant_id"],
        message: `a ${key.kind} key belongs to one tenant`,
      });
    }
  });
export type CreateApiKeyRequest = z.infer<typeof CreateApiKeyRequest>;

/** A stored key as the API shows it: never the key itself, which is shown once at creation. */
export const ApiKeyRecord = z.object({
  key_id: z.string(),
  kind: ApiKeyKind,
  tenant_id: TenantId.nullable(),
  name: z.string(),
  prefix: z.string().describe("The first characters of the key, to recognise it"),
  allowed_origins: z.array(z.string()),
  created_at: z.int(),
  revoked_at: z.int().nullable(),
});
export type ApiKeyRecord = z.infer<typeof ApiKeyRecord>;
