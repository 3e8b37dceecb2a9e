import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  compileFieldSpecs,
  type Issue,
  memberOf,
  SCENARIO_MEMBERS,
  TEMPLATES,
} from "../../src/core/index.ts";

/** Values of every kind a field could be given. */
const anyFieldValue = fc.oneof(
  fc.integer({ min: -5, max: 5000 }),
  fc.double({ min: -2, max: 120, noNaN: true }),
  fc.constantFrom("360p", "4K", "lossless", "hybrid", "post", "medium", "friend", "x"),
  fc.boolean(),
  fc.array(fc.oneof(fc.integer({ min: -2, max: 10 }), fc.string()), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.oneof(fc.double({ noNaN: true }), fc.string()), { maxKeys: 2 }),
  fc.constant(null),
);

describe("templates derived from the SPEC §4 schemas", () => {
  it.each(TEMPLATES.map((t) => [t.template_id, t] as const))(
    "%s: its field specs accept exactly what the member schema accepts",
    (_id, template) => {
      const schema = SCENARIO_MEMBERS[memberOf(template.scenario_type)];
      const specs = [...template.required_fields, ...template.optional_fields].map((f) => ({
        ...f,
        required: false,
      }));
      const check = compileFieldSpecs(specs);
      const names = specs.map((f) => f.field_name);
      fc.assert(
        fc.property(fc.dictionary(fc.constantFrom(...names), anyFieldValue, { maxKeys: 4 }), (data) => {
          const issues: Issue[] = [];
          check(data, "d", issues);
          expect(issues.length === 0).toBe(schema.safeParse(data).success);
        }),
        { numRuns: 500 },
      );
    },
  );
});
