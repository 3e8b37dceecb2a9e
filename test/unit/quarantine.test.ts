import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  EXAMPLE_EVENTS,
  jsonNestingDepth,
  MAX_STORED_DEPTH,
  quarantineRecord,
  readStoredEvent,
  sha256OfText,
} from "../../src/core/index.ts";

/** Kafka's default message.max.bytes; a quarantine record must stay far below it. */
const KAFKA_MAX_MESSAGE_BYTES = 1024 * 1024;

const nested = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;

describe("sha256OfText", () => {
  it("agrees with node:crypto on any text, empty, multi-block and non-ASCII included", () => {
    for (const text of ["", "abc", "a".repeat(55), "a".repeat(56), "a".repeat(64), "服饰/女装/连衣裙 😀"]) {
      expect(sha256OfText(text)).toBe(createHash("sha256").update(text, "utf8").digest("hex"));
    }
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => {
        expect(sha256OfText(text)).toBe(createHash("sha256").update(text, "utf8").digest("hex"));
      }),
    );
  });
});

describe("the quarantine record of a refusal", () => {
  const event = { ...EXAMPLE_EVENTS.video_data, tenant_id: "mymx" } as Record<string, unknown>;

  it("fits Kafka when a 900 KB member name is repeated in every field error", () => {
    // The refusal that used to make an 1.8 MB record, which the quarantine topic refused.
    const name = "k".repeat(900_000);
    const hostile = { ...event, context: { device_type: "mobile", [name]: 1 } };
    // Validation now refuses the key by its length without repeating it; a refusal from elsewhere (the
    // edge's, an older relay's) may still name it in its errors, and must fit too.
    const errors = [
      { path: `context.${name}`, code: "unknown_field", message: `unknown field ${name}` },
      { path: "context", code: "too_big", message: `a key of ${name.length} characters` },
    ];
    const refusal = { reason: "invalid_event" as const, errors, event: hostile };
    expect(JSON.stringify(refusal).length).toBeGreaterThan(KAFKA_MAX_MESSAGE_BYTES);

    const record = quarantineRecord("mymx", refusal, 1);
    expect(Buffer.byteLength(record.value)).toBeLessThan(200_000);
    const kept = JSON.parse(record.value);
    const json = JSON.stringify(hostile);
    expect(kept).toMatchObject({
      reason: "invalid_event",
      received_at: 1,
      event: {
        tenant_id: "mymx",
        user_id: event.user_id,
        truncated: true,
        json_bytes: Buffer.byteLength(json),
        json_sha256: createHash("sha256").update(json).digest("hex"),
      },
    });
    expect(json.startsWith(kept.event.json_start)).toBe(true);
    for (const error of kept.errors)
      expect(error.path.length + error.message.length).toBeLessThanOrEqual(512);
  });

  it("keeps neither a huge user id as the record's key nor huge ids beside a truncated event", () => {
    const huge = "u".repeat(500_000);
    const record = quarantineRecord(
      "mymx",
      { reason: "payload_too_large", errors: [], event: { ...event, user_id: huge, event_id: huge } },
      1,
    );
    expect(record.key).toBe("");
    expect(Buffer.byteLength(record.value)).toBeLessThan(100_000);
    expect(JSON.parse(record.value).event).not.toHaveProperty("user_id");
  });

  it("keeps a small event whole", () => {
    const record = quarantineRecord("mymx", { reason: "invalid_event", errors: [], event }, 1);
    expect(JSON.parse(record.value).event).toEqual(event);
    expect(record.key).toBe(event.user_id);
  });

  it("bounds any refusal, whatever its event and errors hold", () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.array(
          fc.record({ path: fc.string({ maxLength: 5000 }), message: fc.string({ maxLength: 5000 }) }),
          {
            maxLength: 200,
          },
        ),
        (value, errors) => {
          const record = quarantineRecord("mymx", { reason: "unreadable", errors, event: value }, 1);
          expect(Buffer.byteLength(record.value)).toBeLessThan(KAFKA_MAX_MESSAGE_BYTES / 4);
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe("reading a stored record as an event", () => {
  it("reads an event", () => {
    const value = JSON.stringify(EXAMPLE_EVENTS.video_data);
    expect(readStoredEvent(value)).toEqual({ ok: true, event: EXAMPLE_EVENTS.video_data });
  });

  it.each([
    ["a tombstone", undefined, "no_value"],
    ["no value", null, "no_value"],
    ["text", "hello", "not_json"],
    ["an empty value", "", "not_json"],
    ["JSON null", "null", "not_an_object"],
    ["a number", "42", "not_an_object"],
    ["an array", "[1,2]", "not_an_object"],
    ["JSON 5,000 levels deep", `{"a":${nested(5000)}}`, "too_deep"],
  ])("says why %s is no event", (_, value, why) => {
    expect(readStoredEvent(value)).toMatchObject({ ok: false, unreadable: why });
  });

  it(`reads JSON up to ${MAX_STORED_DEPTH} levels and measures depth outside strings only`, () => {
    expect(readStoredEvent(`{"a":${nested(MAX_STORED_DEPTH - 1)}}`).ok).toBe(true);
    expect(jsonNestingDepth(`{"a":"[[[[\\"[[[[","b":[{}]}`, 10)).toBe(3);
    expect(jsonNestingDepth(nested(1_000_000), 64)).toBe(65);
  });
});
