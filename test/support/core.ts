import {
  configFromTemplate,
  type Environment,
  type ScenarioMember,
  type TrackingConfig,
  TrackingConfig as TrackingConfigSchema,
  templateFor,
  typeOfMember,
} from "../../src/core/index.ts";

export const NOW = 1_764_000_100_000;

/** A clock stuck at NOW and a random source that counts up, so generated ids are predictable. */
export const fixedEnvironment = (): Environment => {
  let next = 0;
  return {
    now: () => NOW,
    randomBytes: (bytes) => {
      for (let i = 0; i < bytes.length; i++) bytes[i] = next++ & 0xff;
    },
  };
};

/** The config a tenant would get for a member's scenario: from its template, or a custom one naming the given fields. */
export const configFor = (
  member: ScenarioMember,
  target: { tenant_id: string; scenario_id: string },
  overrides: Partial<TrackingConfig> = {},
): TrackingConfig => {
  const { tenant_id, scenario_id } = target;
  const template = templateFor(typeOfMember(member));
  const config =
    template !== undefined
      ? configFromTemplate(template, { tenant_id, scenario_id, name: template.name }, NOW)
      : TrackingConfigSchema.parse({
          tenant_id,
          scenario_id,
          scenario_type: "custom",
          name: "Live rooms",
          optional_fields: [
            { field_name: "room_title", field_type: "string" },
            { field_name: "viewer_count", field_type: "integer", min_value: 0 },
            { field_name: "gift_sent", field_type: "boolean" },
          ],
          is_active: true,
          version: 1,
          created_at: NOW,
          updated_at: NOW,
        });
  return TrackingConfigSchema.parse({ ...config, ...overrides });
};
