import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EXAMPLE_EVENTS, validateEvent } from "../../src/core/index.ts";
import { eventFromProto, eventFromProtoBytes, eventToProto } from "../../src/core/protobuf.ts";
import { ActionType, BehaviorEventSchema, DeviceType } from "../../src/gen/recommender/v1/behavior_pb.js";
import { fixedEnvironment } from "../support/core.ts";

const validated = Object.entries(EXAMPLE_EVENTS).map(([member, example]) => {
  const result = validateEvent(example, undefined, fixedEnvironment());
  if (!result.ok) throw new Error(member);
  return [member, result.event] as const;
});

describe("protobuf ↔ core event mapping", () => {
  it.each(validated)("%s: core → protobuf binary → core is unchanged", (_member, event) => {
    const bytes = toBinary(BehaviorEventSchema, eventToProto(event));
    const back = eventFromProto(fromBinary(BehaviorEventSchema, bytes));
    expect(back).toEqual(event);
    // Checked again as the relay checks what the edge forwards: received_at is the edge's.
    expect(validateEvent(back, undefined, fixedEnvironment(), { receivedBy: "server" }).event).toEqual(event);
  });

  it("maps a message built with the generated API, enums and 64-bit integers included", () => {
    const message = create(BehaviorEventSchema, {
      tenantId: "mymx",
      scenarioId: "vlog_feed",
      userId: "u1",
      itemId: "v1",
      actionType: ActionType.PLAY_END,
      timestamp: 1_764_000_000_000n,
      context: { deviceType: DeviceType.TABLET, location: "北京" },
      scenarioData: {
        data: { case: "videoData", value: { duration: 60, completionRate: 0.5, seekPositions: [3] } },
      },
    });
    expect(eventFromProto(message)).toEqual({
      tenant_id: "mymx",
      scenario_id: "vlog_feed",
      user_id: "u1",
      item_id: "v1",
      action_type: "play_end",
      timestamp: 1_764_000_000_000,
      context: { device_type: "tablet", location: "北京" },
      scenario_data: { video_data: { duration: 60, completion_rate: 0.5, seek_positions: [3] } },
    });
  });

  it("names fields the contract lacks by number, so that binary calls warn about them as JSON bodies do", () => {
    const message = eventToProto(validated[0]?.[1] as Parameters<typeof eventToProto>[0]);
    // A client built from a newer .proto: field 99 of the event, field 98 of its context.
    message.$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([1]) }];
    if (message.context === undefined) throw new Error("the example has a context");
    message.context.$unknown = [{ no: 98, wireType: 0, data: new Uint8Array([1]) }];
    const result = validateEvent(
      eventFromProtoBytes(toBinary(BehaviorEventSchema, message)),
      undefined,
      fixedEnvironment(),
    );
    expect(result.ok).toBe(true);
    expect(result.warnings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: "#99", code: "unknown_field" }),
        expect.objectContaining({ path: "context.#98", code: "unknown_field" }),
      ]),
    );
    // Dropped, as a JSON body's unknown members are.
    expect(result.event).not.toHaveProperty(["#99"]);
    expect(result.event?.context).not.toHaveProperty(["#98"]);
  });

  it("leaves unset required fields out, so validation names them", () => {
    const result = validateEvent(
      eventFromProto(create(BehaviorEventSchema, { tenantId: "mymx" })),
      undefined,
      fixedEnvironment(),
    );
    expect(result.errors.map((e) => e.path)).toEqual([
      "scenario_id",
      "user_id",
      "item_id",
      "action_type",
      "context",
    ]);
  });

  it("keeps 64-bit counts as numbers", () => {
    const event = eventFromProto(
      create(BehaviorEventSchema, {
        scenarioData: { data: { case: "socialData", value: { followerCount: 3_000_000_000n } } },
      }),
    );
    expect(event).toMatchObject({ scenario_data: { social_data: { follower_count: 3_000_000_000 } } });
  });
});
