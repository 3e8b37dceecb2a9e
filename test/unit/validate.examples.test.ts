import { describe, expect, it } from "vitest";
import { EXAMPLE_EVENTS, type ScenarioMember, validateEvent } from "../../src/core/index.ts";
import { configFor, fixedEnvironment } from "../support/core.ts";

const examples = Object.entries(EXAMPLE_EVENTS) as [
  ScenarioMember,
  (typeof EXAMPLE_EVENTS)[ScenarioMember],
][];

describe("the SPEC §4 example of every scenario member", () => {
  it.each(examples)(
    "%s validates against its tracking config with no error and no warning",
    (member, example) => {
      const result = validateEvent(example, configFor(member, example), fixedEnvironment());
      expect(result.errors).toEqual([]);
      expect(result.warnings).toEqual([]);
      expect(result.ok).toBe(true);
    },
  );

  it.each(examples)("%s without a config is accepted with only the no-config warning", (_member, example) => {
    const result = validateEvent(example, undefined, fixedEnvironment());
    expect(result.ok).toBe(true);
    expect(result.warnings.map((w) => [w.path, w.code])).toEqual([["scenario_id", "no_config"]]);
  });

  it("keeps Chinese text byte-exact", () => {
    const result = validateEvent(EXAMPLE_EVENTS.ecommerce_data, undefined, fixedEnvironment());
    const json = JSON.stringify(result.event);
    expect(json).toContain('"category_path":"/服饰/女装/连衣裙"');
    expect(new TextDecoder().decode(new TextEncoder().encode(json))).toBe(json);
  });
});
