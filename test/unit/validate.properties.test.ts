import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ACTION_TYPES,
  DEVICE_TYPES,
  EXAMPLE_EVENTS,
  MAX_JSON_DEPTH,
  MAX_KEY_LENGTH,
  SCENARIO_MEMBERS,
  type ScenarioMember,
  structureProblem,
  validateEvent,
} from "../../src/core/index.ts";
import { configFor, fixedEnvironment } from "../support/core.ts";
import { HOSTILE_PLACES, hostileJson, hostileValue, withHostile } from "../support/hostile.ts";

const members = Object.keys(SCENARIO_MEMBERS) as ScenarioMember[];
const configs = members.map((m) => configFor(m, { tenant_id: "mymx", scenario_id: "s" }));
const strictConfigs = members.map((m) =>
  configFor(m, { tenant_id: "mymx", scenario_id: "s" }, { strict: true }),
);
const anyConfig = fc.option(fc.constantFrom(...configs, ...strictConfigs), { nil: undefined });

/** JSON as a parser would produce it, including keys such as __proto__ and constructor. */
const json = fc.jsonValue();
const nastyKey = fc.constantFrom("__proto__", "constructor", "prototype", "toString", "", "😀", "a.b");
const nastyObject = fc.dictionary(fc.oneof(nastyKey, fc.string()), json, { maxKeys: 5 });

/** Events that are mostly right, so that the generator reaches the scenario checks too. */
const nearlyValidEvent = fc.record(
  {
    event_id: fc.oneof(fc.string(), fc.constant("evt_0123456789abcdef")),
    tenant_id: fc.oneof(fc.constant("mymx"), fc.string()),
    scenario_id: fc.constant("vlog_feed"),
    user_id: fc.string({ minLength: 1, maxLength: 300 }),
    item_id: fc.string({ minLength: 1 }),
    action_type: fc.oneof(fc.constantFrom(...ACTION_TYPES), fc.string()),
    timestamp: fc.oneof(fc.integer({ min: 1_000_000_000_000, max: 2_000_000_000_000 }), fc.double()),
    context: fc.oneof(
      fc.record(
        {
          device_type: fc.constantFrom(...DEVICE_TYPES),
          os: fc.string(),
          ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()),
        },
        { requiredKeys: ["device_type"] },
      ),
      nastyObject,
    ),
    position: fc.oneof(fc.nat(), fc.double()),
    scenario_data: fc.oneof(
      fc.constantFrom(...members).chain((m) => nastyObject.map((data) => ({ [m]: data }))),
      fc.constantFrom(...members.map((m) => EXAMPLE_EVENTS[m].scenario_data)),
      json,
    ),
    extra_data: fc.oneof(nastyObject, json),
  },
  { requiredKeys: ["tenant_id", "user_id", "item_id", "action_type", "context"] },
);

describe("validateEvent on arbitrary input", () => {
  it("never throws on any JSON value", () => {
    fc.assert(
      fc.property(fc.oneof(json, nearlyValidEvent, nastyObject), anyConfig, (input, config) => {
        const result = validateEvent(input, config, fixedEnvironment());
        expect(result.ok).toBe(result.errors.length === 0);
      }),
      { numRuns: 3000 },
    );
  });

  it("never throws on input parsed from JSON text with dangerous keys", () => {
    const text = '{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}},"tenant_id":"mymx"}';
    expect(() => validateEvent(JSON.parse(text), undefined, fixedEnvironment())).not.toThrow();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("returns accepted events that serialise to JSON and back unchanged, UTF-8 byte-exact", () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.oneof(nearlyValidEvent, fc.constantFrom(...Object.values(EXAMPLE_EVENTS))),
        anyConfig,
        (input, config) => {
          const result = validateEvent(input, config, fixedEnvironment());
          if (!result.ok) return;
          accepted++;
          const bytes = new TextEncoder().encode(JSON.stringify(result.event));
          const back = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
          expect(back).toEqual(JSON.parse(JSON.stringify(result.event)));
          expect(new TextEncoder().encode(JSON.stringify(back))).toEqual(bytes);
        },
      ),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(100);
  });

  it("refuses hostile structure in any free-form place by a path inside the event, and what it accepts serialises within the limits", () => {
    let refused = 0;
    fc.assert(
      fc.property(fc.constantFrom(...HOSTILE_PLACES), hostileValue, anyConfig, (place, value, config) => {
        // As a body brings it: parsed from JSON text (5,000 levels included).
        const input = JSON.parse(hostileJson(withHostile({ ...EXAMPLE_EVENTS.custom_data }, place, value)));
        const result = validateEvent(input, config, fixedEnvironment());
        if (!result.ok) {
          refused++;
          for (const error of result.errors) {
            expect(error.message.startsWith(error.path === "" ? "the event" : error.path)).toBe(true);
            // A path is at most a few field names long: it names a place, not the hostile value.
            expect(error.path.length).toBeLessThan(MAX_JSON_DEPTH * (MAX_KEY_LENGTH + 4));
          }
          return;
        }
        const json = JSON.stringify(result.event);
        expect(structureProblem(JSON.parse(json))).toBeUndefined();
      }),
      { numRuns: 400 },
    );
    expect(refused).toBeGreaterThan(50);
  });

  it("keeps every string of an accepted event, Chinese included, exactly as sent", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", minLength: 1 }), (text) => {
        const result = validateEvent(
          { ...EXAMPLE_EVENTS.custom_data, user_id: text, extra_data: { text } },
          undefined,
          fixedEnvironment(),
        );
        expect(result.event?.user_id).toBe(text);
        expect(JSON.parse(JSON.stringify(result.event)).extra_data.text).toBe(text);
      }),
    );
  });
});
