import { describe, expect, it } from "vitest";
import { FieldSpec, TEMPLATES, TrackingConfigDefinition } from "../../src/core/index.ts";

const pathsOf = (result: { success: boolean; error?: { issues: { path: PropertyKey[] }[] } }) =>
  result.error?.issues.map((i) => i.path.join(".")) ?? [];

describe("field specs", () => {
  it("accepts the SPEC's custom field: duration, integer, 1–3600", () => {
    const spec = FieldSpec.parse({
      field_name: "duration",
      field_type: "integer",
      required: true,
      min_value: 1,
      max_value: 3600,
    });
    expect(spec).toMatchObject({ field_name: "duration", required: true });
  });

  it.each([
    ["an unknown type", { field_name: "x", field_type: "date" }, "field_type"],
    [
      "min greater than max",
      { field_name: "x", field_type: "float", min_value: 5, max_value: 1 },
      "min_value",
    ],
    [
      "allowed_values on a number",
      { field_name: "x", field_type: "integer", allowed_values: ["1"] },
      "allowed_values",
    ],
    ["min_value on a string", { field_name: "x", field_type: "string", min_value: 1 }, "min_value"],
    ["item_type on a string", { field_name: "x", field_type: "string", item_type: "integer" }, "item_type"],
    ["a camelCase name", { field_name: "watchDuration", field_type: "integer" }, "field_name"],
    [
      "an empty allowed_values",
      { field_name: "x", field_type: "string", allowed_values: [] },
      "allowed_values",
    ],
    ["an unknown property", { field_name: "x", field_type: "string", regex: ".*" }, ""],
  ])("rejects %s, naming the field", (_what, input, path) => {
    expect(pathsOf(FieldSpec.safeParse(input))).toContain(path);
  });
});

describe("tracking-config definitions", () => {
  const base = { tenant_id: "mymx", scenario_id: "vlog_feed", scenario_type: "video", name: "Vlog feed" };

  it("fills defaults: no fields, not strict, empty description", () => {
    expect(TrackingConfigDefinition.parse(base)).toMatchObject({
      required_fields: [],
      optional_fields: [],
      strict: false,
      description: "",
    });
  });

  it("rejects a field named twice across the two lists", () => {
    const result = TrackingConfigDefinition.safeParse({
      ...base,
      required_fields: [{ field_name: "duration", field_type: "integer" }],
      optional_fields: [{ field_name: "duration", field_type: "integer" }],
    });
    expect(pathsOf(result)).toEqual(["optional_fields.0.field_name"]);
  });

  it("rejects changing the type of a built-in field of its scenario", () => {
    const result = TrackingConfigDefinition.safeParse({
      ...base,
      optional_fields: [{ field_name: "completion_rate", field_type: "string" }],
    });
    expect(pathsOf(result)).toEqual(["optional_fields.0.field_type"]);
    expect(result.error?.issues[0]?.message).toContain("float");
  });

  it("rejects an unsafe tenant id and an unknown scenario type", () => {
    const result = TrackingConfigDefinition.safeParse({ ...base, tenant_id: "../x", scenario_type: "games" });
    expect(pathsOf(result).sort()).toEqual(["scenario_type", "tenant_id"]);
  });
});

describe("templates", () => {
  it("offers the eight built-in scenario types", () => {
    expect(TEMPLATES.map((t) => t.template_id)).toEqual([
      "video",
      "ecommerce",
      "news",
      "music",
      "education",
      "content",
      "social",
      "personalized",
    ]);
  });

  it("keeps required fields few (at most one per template)", () => {
    for (const template of TEMPLATES) expect(template.required_fields.length).toBeLessThanOrEqual(1);
  });

  it("lists typical actions that together are the 31-value action enum", () => {
    const union = new Set(TEMPLATES.flatMap((t) => t.typical_actions));
    expect(union.size).toBe(31);
  });

  it("is itself a valid tracking-config definition", () => {
    for (const { template_id: _id, ...template } of TEMPLATES) {
      const parsed = TrackingConfigDefinition.safeParse({ ...template, tenant_id: "t", scenario_id: "s" });
      expect(parsed.error?.issues ?? []).toEqual([]);
    }
  });
});
