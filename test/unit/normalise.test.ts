import { describe, expect, it } from "vitest";
import { EXAMPLE_EVENTS, GENERATED_EVENT_ID, validateEvent } from "../../src/core/index.ts";
import { fixedEnvironment, NOW } from "../support/core.ts";

const { event_id: _id, timestamp: _ts, ...bare } = { ...EXAMPLE_EVENTS.video_data, event_id: "x" };

describe("normalisation", () => {
  it("fills event_id from the injected random source and timestamp from the injected clock", () => {
    const result = validateEvent(bare, undefined, fixedEnvironment());
    expect(result.event?.event_id).toBe("evt_0001020304050607");
    expect(result.event?.event_id).toMatch(GENERATED_EVENT_ID);
    expect(result.event?.timestamp).toBe(NOW);
    expect(result.event?.received_at).toBe(NOW);
  });

  it("stamps received_at with its own clock and keeps a client's as client_received_at", () => {
    const sent = validateEvent({ ...bare, received_at: 1_700_000_000_000 }, undefined, fixedEnvironment());
    expect(sent.event).toMatchObject({ received_at: NOW, client_received_at: 1_700_000_000_000 });
    // A server that received the event first (the edge, checked again by the relay) keeps its stamp.
    const forwarded = validateEvent({ ...bare, received_at: NOW - 5 }, undefined, fixedEnvironment(), {
      receivedBy: "server",
    });
    expect(forwarded.event?.received_at).toBe(NOW - 5);
    expect(forwarded.event?.client_received_at).toBeUndefined();
  });

  it("gives two events two different ids", () => {
    const env = fixedEnvironment();
    const first = validateEvent(bare, undefined, env).event?.event_id;
    const second = validateEvent(bare, undefined, env).event?.event_id;
    expect(first).not.toBe(second);
  });

  it("keeps a client-supplied event_id and timestamp", () => {
    const result = validateEvent(
      { ...bare, event_id: "0f8fad5b-d9cb-469f-a165-70867728950e", timestamp: 1_763_000_000_000 },
      undefined,
      fixedEnvironment(),
    );
    expect(result.event?.event_id).toBe("0f8fad5b-d9cb-469f-a165-70867728950e");
    expect(result.event?.timestamp).toBe(1_763_000_000_000);
  });

  it("uses the real clock and Web Crypto by default", () => {
    const before = Date.now();
    const result = validateEvent(bare);
    expect(result.event?.event_id).toMatch(GENERATED_EVENT_ID);
    expect(result.event?.timestamp).toBeGreaterThanOrEqual(before);
  });

  it("drops unknown envelope and context fields with a warning naming each", () => {
    const result = validateEvent(
      { ...bare, userId: "u1", context: { ...bare.context, screen: "1080x1920" } },
      undefined,
      fixedEnvironment(),
    );
    expect(result.ok).toBe(true);
    expect(result.event).not.toHaveProperty("userId");
    expect(result.event?.context).not.toHaveProperty("screen");
    const unknown = result.warnings.filter((w) => w.code === "unknown_field");
    expect(unknown.map((w) => w.path)).toEqual(["userId", "context.screen"]);
    expect(unknown[0]?.message).toContain("userId");
  });

  it("flags a timestamp far in the future as clock skew but accepts it", () => {
    const result = validateEvent({ ...bare, timestamp: NOW + 2 * 3_600_000 }, undefined, fixedEnvironment());
    expect(result.ok).toBe(true);
    expect(result.warnings.find((w) => w.code === "clock_skew")?.path).toBe("timestamp");
  });
});
