import { describe, expect, it } from "vitest";
import { EXAMPLE_EVENTS, TrackingConfig, validateEvent } from "../../src/core/index.ts";
import { configFor, fixedEnvironment } from "../support/core.ts";

const target = { tenant_id: "mymx", scenario_id: "vlog_feed" };
const lenient = configFor("video_data", target);
const strict = configFor("video_data", target, { strict: true });

const videoEvent = (videoData: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  ...EXAMPLE_EVENTS.video_data,
  scenario_data: { video_data: videoData },
  ...extra,
});

/** [what is wrong, video_data, the path the warning must name, its code] */
const cases: [string, Record<string, unknown>, string, string][] = [
  ["required field missing", { watch_duration: 3 }, "scenario_data.video_data.duration", "required"],
  ["integer given a float", { duration: 12.5 }, "scenario_data.video_data.duration", "invalid_type"],
  ["integer given a string", { duration: "12" }, "scenario_data.video_data.duration", "invalid_type"],
  [
    "float above its maximum",
    { duration: 10, completion_rate: 1.5 },
    "scenario_data.video_data.completion_rate",
    "too_big",
  ],
  [
    "float below its minimum",
    { duration: 10, completion_rate: -0.1 },
    "scenario_data.video_data.completion_rate",
    "too_small",
  ],
  [
    "value outside allowed_values",
    { duration: 10, video_quality: "8K" },
    "scenario_data.video_data.video_quality",
    "invalid_value",
  ],
  [
    "boolean given a string",
    { duration: 10, is_muted: "false" },
    "scenario_data.video_data.is_muted",
    "invalid_type",
  ],
  [
    "array given an object",
    { duration: 10, seek_positions: { 0: 1 } },
    "scenario_data.video_data.seek_positions",
    "invalid_type",
  ],
  [
    "array element of the wrong type",
    { duration: 10, seek_positions: [1, "2"] },
    "scenario_data.video_data.seek_positions[1]",
    "invalid_type",
  ],
  [
    "array element out of range",
    { duration: 10, seek_positions: [1, -2] },
    "scenario_data.video_data.seek_positions[1]",
    "too_small",
  ],
  [
    "field not in the config",
    { duration: 10, resolution: "4k" },
    "scenario_data.video_data.resolution",
    "unknown_field",
  ],
  ["null value", { duration: null }, "scenario_data.video_data.duration", "invalid_type"],
];

describe("scenario-data problems", () => {
  it.each(cases)("%s: a warning naming the field under a lenient config", (_what, data, path, code) => {
    const result = validateEvent(videoEvent(data), lenient, fixedEnvironment());
    expect(result.ok).toBe(true);
    const warning = result.warnings.find((w) => w.path === path);
    expect(warning, JSON.stringify(result.warnings)).toMatchObject({ code });
    expect(warning?.message.startsWith(path)).toBe(true);
  });

  it.each(cases)("%s: an error under a strict config", (_what, data, path, code) => {
    const result = validateEvent(videoEvent(data), strict, fixedEnvironment());
    expect(result.ok).toBe(false);
    expect(result.errors.find((e) => e.path === path)).toMatchObject({ code });
  });

  it("checks a map's values (feature_importance)", () => {
    const event = {
      ...EXAMPLE_EVENTS.personalized_data,
      scenario_data: { personalized_data: { feature_importance: { 观看时长: "high" } } },
    };
    const result = validateEvent(event, undefined, fixedEnvironment());
    expect(result.warnings.map((w) => w.path)).toContain(
      "scenario_data.personalized_data.feature_importance.观看时长",
    );
  });

  it("warns about an action that is not typical for the scenario, and strict rejects it", () => {
    const event = videoEvent({ duration: 10 }, { action_type: "add_cart" });
    const warned = validateEvent(event, lenient, fixedEnvironment());
    expect(warned.ok).toBe(true);
    expect(warned.warnings).toContainEqual(
      expect.objectContaining({ path: "action_type", code: "unexpected_action" }),
    );
    expect(validateEvent(event, strict, fixedEnvironment()).ok).toBe(false);
  });

  it("uses the config's own typical actions when it lists them", () => {
    const config = configFor("video_data", target, { typical_actions: ["impression"] });
    const result = validateEvent(
      videoEvent({ duration: 10 }, { action_type: "play" }),
      config,
      fixedEnvironment(),
    );
    expect(result.warnings.map((w) => w.code)).toEqual(["unexpected_action"]);
  });

  it("warns when the event carries another scenario's member than its config", () => {
    const event = { ...EXAMPLE_EVENTS.video_data, scenario_data: EXAMPLE_EVENTS.news_data.scenario_data };
    const result = validateEvent(event, lenient, fixedEnvironment());
    expect(result.ok).toBe(true);
    expect(result.warnings).toContainEqual(
      expect.objectContaining({ path: "scenario_data.news_data", code: "scenario_mismatch" }),
    );
    expect(validateEvent(event, strict, fixedEnvironment()).ok).toBe(false);
  });

  it("reports required fields when scenario_data is absent", () => {
    const { scenario_data: _omit, ...event } = EXAMPLE_EVENTS.video_data;
    const result = validateEvent(event, strict, fixedEnvironment());
    expect(result.errors).toEqual([
      expect.objectContaining({ path: "scenario_data.video_data.duration", code: "required" }),
    ]);
  });

  it("applies a custom config's narrower range on a built-in field (duration 1–3600)", () => {
    const config = TrackingConfig.parse({
      ...target,
      scenario_type: "video",
      name: "Vlog feed",
      required_fields: [{ field_name: "duration", field_type: "integer", min_value: 1, max_value: 3600 }],
      is_active: true,
      version: 2,
      created_at: 1,
      updated_at: 2,
    });
    const tooLong = validateEvent(videoEvent({ duration: 7200 }), config, fixedEnvironment());
    expect(tooLong.warnings).toContainEqual(
      expect.objectContaining({ path: "scenario_data.video_data.duration", code: "too_big" }),
    );
    // Built-in fields the config does not name keep their types and ranges, but are not required.
    const other = validateEvent(videoEvent({ duration: 60, completion_rate: 2 }), config, fixedEnvironment());
    expect(other.warnings.map((w) => w.path)).toEqual(["scenario_data.video_data.completion_rate"]);
  });

  it("lets a config make a template's required field optional", () => {
    const config = configFor("video_data", target, {
      required_fields: [],
      optional_fields: [...lenient.required_fields, ...lenient.optional_fields].map((f) => ({
        ...f,
        required: false,
      })),
    });
    expect(validateEvent(videoEvent({ watch_duration: 3 }), config, fixedEnvironment()).warnings).toEqual([]);
  });

  it("treats a deleted (inactive) config as no config, even when it was strict", () => {
    const deleted = configFor("video_data", target, { strict: true, is_active: false });
    const result = validateEvent(videoEvent({ duration: "long" }), deleted, fixedEnvironment());
    expect(result.ok).toBe(true);
    expect(result.warnings.map((w) => w.code)).toEqual(["inactive_config", "invalid_type"]);
  });

  it("checks a custom member only against the fields its config defines", () => {
    const event = EXAMPLE_EVENTS.custom_data;
    expect(validateEvent(event, undefined, fixedEnvironment()).warnings.map((w) => w.code)).toEqual([
      "no_config",
    ]);
    const config = configFor(
      "custom_data",
      { tenant_id: "mymx", scenario_id: "live_rooms" },
      { strict: true },
    );
    const bad = { ...event, scenario_data: { custom_data: { viewer_count: -5 } } };
    const result = validateEvent(bad, config, fixedEnvironment());
    expect(result.errors).toEqual([
      expect.objectContaining({ path: "scenario_data.custom_data.viewer_count", code: "too_small" }),
    ]);
  });
});

describe("config_version", () => {
  it("names the version of the active config the event was checked against, replacing a sent one", () => {
    const config = configFor("video_data", target, { version: 7 });
    const result = validateEvent({ ...videoEvent({ duration: 10 }), config_version: 3 }, config);
    expect(result.ok).toBe(true);
    expect(result.event?.config_version).toBe(7);
  });

  it("is absent when there was no config, or only a deleted one", () => {
    const sent = { ...videoEvent({ duration: 10 }), config_version: 3 };
    const none = validateEvent(sent);
    const deleted = validateEvent(sent, configFor("video_data", target, { is_active: false }));
    for (const result of [none, deleted]) {
      expect(result.ok).toBe(true);
      expect(result.event).toBeDefined();
      expect(result.event).not.toHaveProperty("config_version");
    }
  });
});
