// A live view (`behavior-ingest tail`, the relay's live stream) shows whatever a direct writer put into
// a topic and goes on: a record that is no event never ends the view.
import { describe, expect, it } from "vitest";
import { EXAMPLE_EVENTS } from "../../../src/core/index.ts";
import { type TailRecord, toLiveEvent } from "../../../src/kafka/tail.ts";

const record = (value: string | undefined, topic = "user-behaviors-mymx"): TailRecord => ({
  topic,
  partition: 0,
  offset: 7n,
  timestamp: 0,
  key: "",
  value,
});

describe("a record as a live view shows it", () => {
  it.each([
    ["a tombstone", undefined, "no_value"],
    ["JSON null", "null", "not_an_object"],
    ["text", "hello", "not_json"],
    ["JSON 5,000 levels deep", `${"[".repeat(5000)}${"]".repeat(5000)}`, "too_deep"],
  ])("shows %s as unreadable, with warnings asked or not", async (_, value, why) => {
    for (const configFor of [undefined, () => undefined]) {
      const live = await toLiveEvent(record(value), configFor);
      expect(live).toMatchObject({ kind: "accepted", offset: "7", event: { unreadable: why } });
      expect(() => JSON.stringify(live)).not.toThrow();
    }
  });

  it("shows an event with its warnings, and a quarantine record that is no refusal as one without errors", async () => {
    const live = await toLiveEvent(record(JSON.stringify(EXAMPLE_EVENTS.video_data)), () => undefined);
    expect(live).toMatchObject({
      kind: "accepted",
      event: EXAMPLE_EVENTS.video_data,
      warnings: expect.any(Array),
    });
    const odd = await toLiveEvent(
      record('{"reason":"x","errors":"not a list"}', "user-behaviors-mymx-rejected"),
    );
    expect(odd).toMatchObject({ kind: "rejected", reason: "x", errors: [] });
  });
});
