import { createHmac } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { type BehaviorEvent, EXAMPLE_EVENTS, MAX_REQUEST_BYTES } from "../../../src/core/index.ts";
import { relayForwarder } from "../../../src/edge/forwarder.ts";
import { TrackEventsRequestSchema } from "../../../src/gen/recommender/v1/behavior_pb.js";
import {
  ForwardEventsRequestSchema,
  ForwardEventsResponseSchema,
} from "../../../src/gen/recommender/v1/edge_pb.js";

const SECRET = "f".repeat(40);

describe("edge forwarder", () => {
  it("signs each batch and cuts large ones under the relay's request limit, keeping every event in order", async () => {
    const seen: { bytes: number; userIds: string[]; signatureOk: boolean }[] = [];
    const fetcher = (async (_url: string, init: RequestInit) => {
      const body = new Uint8Array(init.body as ArrayBuffer);
      const request = fromBinary(ForwardEventsRequestSchema, body);
      const expected = createHmac("sha256", SECRET)
        .update(`forward.${request.timestampMs}.${request.nonce}.`)
        .update(request.batch)
        .digest("hex");
      const events = fromBinary(TrackEventsRequestSchema, request.batch).events;
      seen.push({
        bytes: body.byteLength,
        userIds: events.map((e) => e.userId),
        signatureOk: expected === request.signature,
      });
      const answer = create(ForwardEventsResponseSchema, {
        result: {
          success: true,
          total: events.length,
          succeeded: events.length,
          results: events.map((_, index) => ({ index, success: true })),
        },
      });
      return new Response(toBinary(ForwardEventsResponseSchema, answer), {
        headers: { "content-type": "application/proto" },
      });
    }) as typeof fetch;
    // ~16 KB of protobuf each (numbers in free JSON cost 11 bytes there, 2 in JSON): 250 of them are ~4 MB.
    const events = Array.from(
      { length: 250 },
      (_, i) =>
        ({
          ...EXAMPLE_EVENTS.video_data,
          user_id: `u_${i}`,
          extra_data: { scores: Array.from({ length: 1500 }, (_, j) => j % 10) },
        }) as BehaviorEvent,
    );
    await relayForwarder("http://relay.test", [SECRET], { fetcher }).forward(events);

    expect(seen.length).toBeGreaterThan(3);
    for (const call of seen) {
      expect(call.signatureOk).toBe(true);
      expect(call.bytes).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
      expect(call.userIds.length).toBeLessThanOrEqual(100);
    }
    expect(seen.flatMap((c) => c.userIds)).toEqual(events.map((e) => e.user_id));
  });
});
