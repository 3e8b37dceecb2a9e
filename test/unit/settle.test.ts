import { describe, expect, it } from "vitest";
import { checkEvents, EXAMPLE_EVENTS, refuseUnwritten, settle, topicFor } from "../../src/core/index.ts";

const event = (tenant: string, user: string) => ({
  ...EXAMPLE_EVENTS.video_data,
  tenant_id: tenant,
  user_id: user,
});

/** A batch of two tenants' valid events around an invalid one and one the writer may not write. */
const batch = async () => {
  const inputs = [
    event("acme", "u1"),
    { ...event("acme", "u2"), user_id: 7 },
    event("globex", "u3"),
    event("initech", "u4"),
    event("acme", "u5"),
  ];
  // Written with a service key (any tenant), without configs; initech's event is then made a refusal
  // for who sent it, as a tenant key of another tenant would have it refused.
  const checked = await checkEvents(inputs, null, () => undefined);
  checked[3] = { ok: false, code: "forbidden", message: "not yours", errors: [], warnings: [] };
  return { inputs, settlement: settle(inputs, checked) };
};

describe("the settle stage", () => {
  it("turns accepted events into records of their tenants' topics, keyed by user, and keeps only content refusals", async () => {
    const { inputs, settlement } = await batch();
    expect(settlement.outcomes.map((o) => o.ok)).toEqual([true, false, true, false, true]);
    expect(settlement.records.map((r) => [r.topic, r.key])).toEqual([
      [topicFor("acme"), "u1"],
      [topicFor("globex"), "u3"],
      [topicFor("acme"), "u5"],
    ]);
    expect(settlement.recordOutcome).toEqual([0, 2, 4]);
    expect(settlement.records.map((r) => JSON.parse(r.value).event_id)).toEqual(
      settlement.records.map((r) => r.eventId),
    );
    // The invalid event is kept with its field errors; the forbidden one is not anyone's to keep.
    expect(settlement.refusals).toHaveLength(1);
    expect(settlement.refusals[0]?.reason).toBe("invalid_event");
    expect(settlement.refusals[0]?.event).toBe(inputs[1]);
    expect(settlement.refusals[0]?.errors.map((e) => e.path)).toContain("user_id");
  });

  it("refuses retryably only the events of the topics a write could not store; all of them when it names none", async () => {
    const { settlement } = await batch();
    const oneTopic = refuseUnwritten(settlement, new Set([topicFor("acme")]), "retry");
    expect(oneTopic.map((o) => (o.ok ? "ok" : o.code))).toEqual([
      "sink_unavailable",
      "invalid_event",
      "ok",
      "forbidden",
      "sink_unavailable",
    ]);
    const all = refuseUnwritten(settlement, undefined, "retry");
    expect(all.map((o) => (o.ok ? "ok" : o.code))).toEqual([
      "sink_unavailable",
      "invalid_event",
      "sink_unavailable",
      "forbidden",
      "sink_unavailable",
    ]);
    // The settlement itself is left as it was: the write's outcome is a new answer.
    expect(settlement.outcomes.map((o) => o.ok)).toEqual([true, false, true, false, true]);
  });
});
