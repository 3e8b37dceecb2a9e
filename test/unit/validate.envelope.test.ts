import { describe, expect, it } from "vitest";
import { EXAMPLE_EVENTS, validateEvent } from "../../src/core/index.ts";
import { configFor, fixedEnvironment } from "../support/core.ts";

const valid = EXAMPLE_EVENTS.video_data as Record<string, unknown>;
const config = configFor("video_data", { tenant_id: "mymx", scenario_id: "vlog_feed" });

const without = (key: string) => Object.fromEntries(Object.entries(valid).filter(([k]) => k !== key));
const withField = (key: string, value: unknown) => ({ ...valid, [key]: value });
const withContext = (context: unknown) => ({ ...valid, context });

/** [what is wrong, the event, the path the error must name] */
const cases: [string, unknown, string][] = [
  ["tenant_id missing", without("tenant_id"), "tenant_id"],
  ["tenant_id with a dot", withField("tenant_id", "acme.prod"), "tenant_id"],
  ["tenant_id upper case", withField("tenant_id", "Acme"), "tenant_id"],
  ["tenant_id aimed at a quarantine topic", withField("tenant_id", "mymx-rejected"), "tenant_id"],
  ["tenant_id aimed at an internal topic", withField("tenant_id", "__consumer_offsets"), "tenant_id"],
  ["tenant_id too long", withField("tenant_id", "a".repeat(65)), "tenant_id"],
  ["tenant_id with a Unicode look-alike", withField("tenant_id", "mуmx"), "tenant_id"],
  ["scenario_id missing", without("scenario_id"), "scenario_id"],
  ["scenario_id with a space", withField("scenario_id", "vlog feed"), "scenario_id"],
  ["user_id missing", without("user_id"), "user_id"],
  ["user_id empty", withField("user_id", ""), "user_id"],
  ["user_id a number", withField("user_id", 10086), "user_id"],
  ["user_id too long", withField("user_id", "u".repeat(257)), "user_id"],
  ["item_id missing", without("item_id"), "item_id"],
  ["action_type missing", without("action_type"), "action_type"],
  ["action_type unknown", withField("action_type", "swipe"), "action_type"],
  ["timestamp in seconds", withField("timestamp", 1_764_000_000), "timestamp"],
  ["timestamp a string", withField("timestamp", "2025-11-24T12:00:00Z"), "timestamp"],
  ["timestamp fractional", withField("timestamp", 1_764_000_000_000.5), "timestamp"],
  ["event_id with a space", withField("event_id", "evt 1"), "event_id"],
  ["event_id too long", withField("event_id", "e".repeat(129)), "event_id"],
  ["context missing", without("context"), "context"],
  ["context not an object", withContext("mobile"), "context"],
  ["context.device_type missing", withContext({ os: "iOS" }), "context.device_type"],
  ["context.device_type unknown", withContext({ device_type: "tv" }), "context.device_type"],
  ["context.ip not an address", withContext({ device_type: "pc", ip: "999.1.1.1" }), "context.ip"],
  ["position negative", withField("position", -1), "position"],
  ["position fractional", withField("position", 1.5), "position"],
  ["position beyond int32, which gRPC cannot carry", withField("position", 2 ** 31), "position"],
  ["experiment_id empty", withField("experiment_id", ""), "experiment_id"],
  ["scenario_data not an object", withField("scenario_data", "video"), "scenario_data"],
  [
    "scenario_data with two members",
    withField("scenario_data", { video_data: {}, news_data: {} }),
    "scenario_data",
  ],
  ["scenario_data with no member", withField("scenario_data", {}), "scenario_data"],
  [
    "scenario_data with an unknown member",
    withField("scenario_data", { live_data: {} }),
    "scenario_data.live_data",
  ],
  [
    "scenario_data member not an object",
    withField("scenario_data", { video_data: [1] }),
    "scenario_data.video_data",
  ],
  ["extra_data an array", withField("extra_data", [1, 2]), "extra_data"],
];

describe("envelope problems reject the event", () => {
  it.each(cases)("%s", (_what, event, path) => {
    const result = validateEvent(event, config, fixedEnvironment());
    expect(result.ok).toBe(false);
    expect(result.event).toBeUndefined();
    const error = result.errors.find((e) => e.path === path);
    expect(error, JSON.stringify(result.errors)).toBeDefined();
    expect(error?.message.startsWith(path)).toBe(true);
  });

  it("names every bad field at once", () => {
    const result = validateEvent(
      { ...valid, user_id: "", action_type: "swipe", context: {} },
      config,
      fixedEnvironment(),
    );
    expect(result.errors.map((e) => e.path).sort()).toEqual([
      "action_type",
      "context.device_type",
      "user_id",
    ]);
  });

  it("says a missing field is required", () => {
    const result = validateEvent(without("item_id"), config, fixedEnvironment());
    expect(result.errors).toEqual([{ path: "item_id", code: "required", message: "item_id is required" }]);
  });

  it.each([null, 42, "event", true, [valid]])("rejects %j as not an event object", (input) => {
    const result = validateEvent(input, config, fixedEnvironment());
    expect(result.ok).toBe(false);
    expect(result.errors[0]?.message).toMatch(/^the event must be a JSON object/);
  });

  it("lets a strict config reject nothing more at envelope level than a lenient one", () => {
    const strict = configFor("video_data", { tenant_id: "mymx", scenario_id: "vlog_feed" }, { strict: true });
    expect(validateEvent(valid, strict, fixedEnvironment()).ok).toBe(true);
  });
});
