import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ApiError,
  BodyBudget,
  EXAMPLE_EVENTS,
  encodeEvent,
  MAX_EVENT_BYTES,
  MAX_EVENTS_PER_BATCH,
  MAX_JSON_DEPTH,
  MAX_KEY_LENGTH,
  MAX_OBJECT_KEYS,
  MAX_SAFE_NUMBER,
  MAX_STRING_LENGTH,
  parseBatch,
  utf8ByteLength,
  validateEvent,
} from "../../src/core/index.ts";
import { fixedEnvironment } from "../support/core.ts";

const event = EXAMPLE_EVENTS.video_data;

describe("batch limits", () => {
  it(`accepts ${MAX_EVENTS_PER_BATCH} events`, () => {
    const result = parseBatch({ events: Array.from({ length: MAX_EVENTS_PER_BATCH }, () => event) });
    expect(result.ok && result.events.length).toBe(MAX_EVENTS_PER_BATCH);
  });

  it(`refuses ${MAX_EVENTS_PER_BATCH + 1} events with 413`, () => {
    const result = parseBatch({ events: Array.from({ length: MAX_EVENTS_PER_BATCH + 1 }, () => event) });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problem).toMatchObject({ status: 413, code: "payload_too_large", retryable: false });
      expect(result.problem.errors?.[0]?.path).toBe("events");
    }
  });

  it.each([[{ events: [] }], [{ events: "x" }], [[event]], [null]])(
    "refuses %j with 400 naming events",
    (body) => {
      const result = parseBatch(body);
      expect(!result.ok && result.problem.status).toBe(400);
      expect(!result.ok && result.problem.errors?.[0]?.path).toBe("events");
    },
  );

  it("hands bad entries through, so they fail one by one", () => {
    const result = parseBatch({ events: [event, 42] });
    expect(result.ok && result.events.map((e) => validateEvent(e, undefined, fixedEnvironment()).ok)).toEqual(
      [true, false],
    );
  });
});

describe("event size limit", () => {
  const validated = (extra: Record<string, unknown>) => {
    const result = validateEvent({ ...event, extra_data: extra }, undefined, fixedEnvironment());
    if (!result.ok) throw new Error("fixture must be valid");
    return result.event;
  };

  it("encodes a typical event as its JSON", () => {
    const result = encodeEvent(validated({}));
    expect(result.ok && JSON.parse(result.json).event_id).toBe("evt_0001020304050607");
  });

  it("refuses an event over the limit counted in UTF-8 bytes, not characters", () => {
    // 12,000 CJK characters are 36,000 bytes: under the limit in characters, over it in bytes.
    const result = encodeEvent(validated({ note: "中".repeat(12_000) }));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toMatch(new RegExp(`at most ${MAX_EVENT_BYTES}`));
    expect(encodeEvent(validated({ note: "a".repeat(30_000) })).ok).toBe(true);
  });

  it("refuses text that is not Unicode (lone surrogates), and only that", () => {
    const lone = encodeEvent(validated({ note: "u_\ud800x" }));
    expect(lone).toMatchObject({ ok: false, code: "invalid_event", error: { code: "invalid_value" } });
    expect(encodeEvent(validated({ note: "\udc00" })).ok).toBe(false);
    expect(encodeEvent(validated({ note: "😀 上海" })).ok).toBe(true); // a proper pair
    expect(encodeEvent(validated({ note: "\\ud800 is text" })).ok).toBe(true); // a backslash, then letters
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        expect(encodeEvent(validated({ note: text })).ok).toBe(
          (text as unknown as { isWellFormed(): boolean }).isWellFormed(),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it("counts UTF-8 bytes exactly as TextEncoder does", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        expect(utf8ByteLength(text)).toBe(new TextEncoder().encode(text).length);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("nesting limit", () => {
  const nested = (depth: number) => {
    let value: unknown = 1;
    for (let i = 0; i < depth; i++) value = [value];
    return value;
  };

  it(`accepts free JSON nested ${MAX_JSON_DEPTH} levels deep`, () => {
    expect(
      validateEvent(
        { ...event, extra_data: { a: nested(MAX_JSON_DEPTH - 1) } },
        undefined,
        fixedEnvironment(),
      ).ok,
    ).toBe(true);
  });

  it("rejects hostile nesting by name instead of overflowing the stack when serialised", () => {
    const hostile = JSON.parse(`{"a":${"[".repeat(200_000)}${"]".repeat(200_000)}}`);
    const result = validateEvent({ ...event, extra_data: hostile }, undefined, fixedEnvironment());
    expect(result.errors).toEqual([
      expect.objectContaining({ path: "extra_data", message: expect.stringContaining("nested deeper") }),
    ]);
    const member = validateEvent(
      { ...EXAMPLE_EVENTS.custom_data, scenario_data: { custom_data: { a: nested(100) } } },
      undefined,
      fixedEnvironment(),
    );
    expect(member.errors[0]?.path).toBe("scenario_data.custom_data");
    // The issue's case, 5,000 levels (30 KB, under the size limit), from JSON text as a body brings it.
    const issue = JSON.parse(
      JSON.stringify(event).replace(/}$/, `,"extra_data":${'{"a":'.repeat(5000)}1${"}".repeat(5000)}}`),
    );
    expect(validateEvent(issue, undefined, fixedEnvironment()).errors).toEqual([
      expect.objectContaining({ path: "extra_data", code: "too_big" }),
    ]);
  });
});

describe("structure limits", () => {
  const check = (input: unknown) => validateEvent(input, undefined, fixedEnvironment());
  const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
  const at = (value: unknown) => ({ ...event, extra_data: { v: value } });

  // [what, within the limit, just beyond it, the path and code that refuse it]
  it.each([
    [
      "keys of an object",
      at(keys(MAX_OBJECT_KEYS)),
      at(keys(MAX_OBJECT_KEYS + 1)),
      "extra_data.v",
      "too_big",
    ],
    [
      "keys of the event itself",
      { ...event, ...keys(MAX_OBJECT_KEYS - Object.keys(event).length) },
      { ...event, ...keys(MAX_OBJECT_KEYS + 1 - Object.keys(event).length) },
      "",
      "too_big",
    ],
    [
      "length of a key",
      at({ ["k".repeat(MAX_KEY_LENGTH)]: 1 }),
      at({ ["k".repeat(MAX_KEY_LENGTH + 1)]: 1 }),
      "extra_data.v",
      "too_big",
    ],
    [
      "length of a string",
      at("x".repeat(MAX_STRING_LENGTH)),
      at("x".repeat(MAX_STRING_LENGTH + 1)),
      "extra_data.v",
      "too_big",
    ],
    ["a number", at(MAX_SAFE_NUMBER), at(MAX_SAFE_NUMBER + 1), "extra_data.v", "too_big"],
    ["a negative number", at([-MAX_SAFE_NUMBER]), at([-(2 ** 53)]), "extra_data.v[0]", "too_big"],
    [
      "a number in a scenario member",
      { ...event, scenario_data: { video_data: { duration: 185, buffer_time: MAX_SAFE_NUMBER } } },
      { ...event, scenario_data: { video_data: { duration: 185, buffer_time: 2 ** 60 } } },
      "scenario_data.video_data.buffer_time",
      "too_big",
    ],
  ])("%s: accepted at the limit, refused beyond it by path", (_what, within, beyond, path, code) => {
    // A string at its limit cannot fit the event's bytes: its check is validation's, size is encoding's.
    expect(check(within).errors).toEqual([]);
    expect(check(beyond).errors).toEqual([expect.objectContaining({ path, code })]);
  });

  it("names each problem in its message, with the limit", () => {
    expect(check(at(2 ** 53)).errors[0]?.message).toMatch(
      /^extra_data\.v is beyond ±9007199254740991 \(2\^53 − 1\)/,
    );
    expect(check(at(keys(300))).errors[0]?.message).toBe(
      `extra_data.v has more than ${MAX_OBJECT_KEYS} keys`,
    );
  });

  it("refuses an event with hundreds of unknown keys instead of warning about each", () => {
    const wide = { ...event, ...Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`x${i}`, 1])) };
    expect(check(wide)).toMatchObject({ ok: false, warnings: [], errors: [{ path: "", code: "too_big" }] });
  });

  it("refuses what a JavaScript caller (the Kafka-direct tracker) may hand in that JSON cannot carry, without throwing", () => {
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    expect(check(at(cycle)).errors).toEqual([
      expect.objectContaining({ path: "extra_data", message: expect.stringContaining("nested deeper") }),
    ]);
    expect(check(at(10n)).errors).toEqual([
      expect.objectContaining({ path: "extra_data.v", code: "invalid_type" }),
    ]);
    expect(check(at(Number.NaN)).errors).toEqual([expect.objectContaining({ path: "extra_data.v" })]);
    expect(check(at(Number.POSITIVE_INFINITY)).errors).toEqual([
      expect.objectContaining({ path: "extra_data.v" }),
    ]);
  });

  it("refuses an integer beyond 2^53 − 1 as JSON text brings it, which parsing already rounded", () => {
    // 9007199254740993 parses as 9007199254740992: stored, it would be another number than the one sent.
    const parsed = JSON.parse(JSON.stringify(at(0)).replace('"v":0', '"v":9007199254740993'));
    expect(check(parsed).errors).toEqual([
      expect.objectContaining({ path: "extra_data.v", code: "too_big" }),
    ]);
  });

  it("lets numbers to 2^53 − 1 through exactly, floats included", () => {
    const result = check(at([MAX_SAFE_NUMBER, -MAX_SAFE_NUMBER, 0.1, 1e-300, -0]));
    expect(result.ok && JSON.parse(JSON.stringify(result.event)).extra_data.v).toEqual([
      MAX_SAFE_NUMBER,
      -MAX_SAFE_NUMBER,
      0.1,
      1e-300,
      0,
    ]);
  });
});

describe("body budget", () => {
  it("lets requests hold bytes up to the budget together, refuses beyond it, and takes back what a closed request held", () => {
    const budget = new BodyBudget(100);
    const a = budget.open();
    const b = budget.open();
    a.take(60);
    b.take(40);
    const c = budget.open();
    expect(() => c.take(1)).toThrow(ApiError);
    try {
      c.take(1);
    } catch (error) {
      expect((error as ApiError).code).toBe("overloaded");
    }
    a.close();
    c.take(60);
    a.close(); // closing twice gives nothing back twice
    expect(() => budget.open().take(1)).toThrow(/retry/);
  });
});
