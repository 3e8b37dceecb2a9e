// Whatever the validator accepts, every encoder carries, on every path: the edge's forwarding (JSON to
// the relay), the relay's Kafka value (encodeEvent), and a gRPC message to an event (eventFromProto).
// And the relay, validating again what the edge forwarded, gives the same answer.
import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ACTION_TYPES,
  EXAMPLE_EVENTS,
  encodeEvent,
  eventFromProto,
  parseBatch,
  parseJsonBody,
  SCENARIO_MEMBERS,
  type ScenarioMember,
  validateEvent,
} from "../../src/core/index.ts";
import { BehaviorEventSchema } from "../../src/gen/recommender/v1/behavior_pb.js";
import { configFor, fixedEnvironment } from "../support/core.ts";

const members = Object.keys(SCENARIO_MEMBERS) as ScenarioMember[];
const configs = members.flatMap((m) => [
  configFor(m, { tenant_id: "mymx", scenario_id: "s" }),
  configFor(m, { tenant_id: "mymx", scenario_id: "s" }, { strict: true }),
]);

/** Values of every JSON type, including the awkward ones: huge, tiny, negative zero, CJK, emoji. */
const awkward = fc.oneof(
  fc.constantFrom(
    1e308,
    -1e308,
    5e-324,
    -0,
    2 ** 53 + 1,
    -(2 ** 63),
    "abc",
    "",
    "上海😀",
    true,
    null,
    [],
    {},
  ),
  fc.jsonValue({ maxDepth: 4 }),
);

/** A field of a scenario member, with a value of any type. */
const scenarioWithJunk = fc.constantFrom(...members).chain((member) => {
  const fields = Object.keys(EXAMPLE_EVENTS[member].scenario_data?.[member as never] ?? { x: 0 });
  return fc
    .dictionary(fc.oneof(fc.constantFrom(...fields), fc.string({ maxLength: 8 })), awkward, { maxKeys: 6 })
    .map((data) => ({ member, data }));
});

const event = fc.record({
  member: scenarioWithJunk,
  action_type: fc.constantFrom(...ACTION_TYPES),
  extra_data: fc.option(fc.dictionary(fc.string({ maxLength: 8 }), awkward, { maxKeys: 5 }), {
    nil: undefined,
  }),
  user_id: fc.oneof(fc.constant("u_1"), fc.string({ minLength: 1, maxLength: 40 })),
  position: fc.option(fc.oneof(fc.nat(), fc.constant(2 ** 31)), { nil: undefined }),
});

describe("validation guarantees encodability", () => {
  it("every event the validator accepts is carried by the edge's JSON, the Kafka value and the relay's second check, unchanged", () => {
    fc.assert(
      fc.property(event, fc.option(fc.constantFrom(...configs), { nil: undefined }), (e, config) => {
        const input = {
          ...EXAMPLE_EVENTS[e.member.member],
          event_id: undefined,
          action_type: e.action_type,
          user_id: e.user_id,
          position: e.position,
          extra_data: e.extra_data,
          scenario_data: { [e.member.member]: e.member.data },
        };
        const atEdge = validateEvent(JSON.parse(JSON.stringify(input)), config, fixedEnvironment());
        if (!atEdge.ok) return;
        // The edge's forwarding body, as the relay parses it.
        const body = new TextEncoder().encode(JSON.stringify({ events: [atEdge.event] }));
        const batch = parseBatch(parseJsonBody(body));
        expect(batch.ok).toBe(true);
        const forwarded = batch.ok ? batch.events[0] : undefined;
        const atRelay = validateEvent(forwarded, config, fixedEnvironment(), { receivedBy: "server" });
        expect(atRelay.ok).toBe(true);
        if (!atRelay.ok) return;
        expect(atRelay.event).toEqual(atEdge.event);
        // The Kafka value: the event itself, or a named refusal (too large, not Unicode), never a throw.
        const encoded = encodeEvent(atRelay.event);
        if (encoded.ok) expect(JSON.parse(encoded.json)).toEqual(JSON.parse(JSON.stringify(atEdge.event)));
        else expect(["payload_too_large", "invalid_event"]).toContain(encoded.code);
      }),
      { numRuns: 400 },
    );
  });

  it("a wrongly typed scenario value is a warning, not a change: it reaches the Kafka value as sent", () => {
    const input = { ...EXAMPLE_EVENTS.video_data, scenario_data: { video_data: { duration: "abc" } } };
    const result = validateEvent(
      input,
      configFor("video_data", { tenant_id: "mymx", scenario_id: "vlog_feed" }),
    );
    expect(result.ok && result.warnings.map((w) => w.path)).toContain("scenario_data.video_data.duration");
    const encoded = result.ok ? encodeEvent(result.event) : undefined;
    expect(encoded?.ok && JSON.parse(encoded.json).scenario_data).toEqual({
      video_data: { duration: "abc" },
    });
  });

  it("every gRPC message maps to an event without throwing, NaN and Infinity in free JSON included", () => {
    const finiteOrNot = fc.oneof(
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
      fc.double(),
      fc.string({ maxLength: 6 }),
      fc.boolean(),
    );
    const struct = fc.dictionary(
      fc.string({ maxLength: 6 }),
      fc.oneof(
        finiteOrNot,
        fc.array(finiteOrNot, { maxLength: 3 }),
        fc.dictionary(fc.string({ maxLength: 4 }), finiteOrNot, { maxKeys: 3 }),
      ),
      { maxKeys: 4 },
    );
    fc.assert(
      fc.property(struct, struct, fc.double(), (extra, custom, rate) => {
        for (const scenarioData of [
          { data: { case: "customData" as const, value: custom } },
          { data: { case: "videoData" as const, value: { completionRate: rate, playbackSpeed: rate } } },
        ]) {
          const message = create(BehaviorEventSchema, {
            tenantId: "mymx",
            extraData: extra,
            scenarioData,
          } as never);
          const json = eventFromProto(message);
          expect(() => JSON.stringify(json)).not.toThrow();
          expect(() => validateEvent(json)).not.toThrow();
        }
      }),
      { numRuns: 300 },
    );
    // The wire form too: what a grpcio client would send.
    const wire = create(BehaviorEventSchema, {
      tenantId: "mymx",
      extraData: { a: Number.NaN, b: [Number.POSITIVE_INFINITY] },
    } as never);
    expect(toBinary(BehaviorEventSchema, wire).byteLength).toBeGreaterThan(0);
    expect(eventFromProto(wire)).toMatchObject({ extra_data: { a: "NaN", b: ["Infinity"] } });
  });
});
