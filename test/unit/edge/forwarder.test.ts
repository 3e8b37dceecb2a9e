import { createHmac } from "node:crypto";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { type BehaviorEvent, EXAMPLE_EVENTS, MAX_REQUEST_BYTES } from "../../../src/core/index.ts";
import { relayForwarder } from "../../../src/edge/forwarder.ts";
import { RelayUnavailableError } from "../../../src/edge/ports.ts";
import {
  ForwardEventsRequestSchema,
  ForwardEventsResponseSchema,
} from "../../../src/gen/recommender/v1/edge_pb.js";

const SECRET = "f".repeat(40);

/** A relay that answers each forwarded event with `answer(event)`. */
const relay = (
  seen: { bytes: number; events: BehaviorEvent[]; signatureOk: boolean }[],
  answer: (event: BehaviorEvent) => { success: boolean; errorCode?: string; retryable?: boolean } = () => ({
    success: true,
  }),
) =>
  (async (_url: string, init: RequestInit) => {
    const body = new Uint8Array(init.body as ArrayBuffer);
    const request = fromBinary(ForwardEventsRequestSchema, body);
    const expected = createHmac("sha256", SECRET)
      .update(`forward.${request.timestampMs}.${request.nonce}.`)
      .update(request.eventsJson)
      .digest("hex");
    const { events } = JSON.parse(new TextDecoder().decode(request.eventsJson)) as {
      events: BehaviorEvent[];
    };
    seen.push({ bytes: body.byteLength, events, signatureOk: expected === request.signature });
    const results = events.map((event, index) => ({ index, ...answer(event) }));
    const reply = create(ForwardEventsResponseSchema, { result: { total: events.length, results } });
    return new Response(toBinary(ForwardEventsResponseSchema, reply), {
      headers: { "content-type": "application/proto" },
    });
  }) as typeof fetch;

describe("edge forwarder", () => {
  it("signs each batch and cuts large ones under the relay's request limit, keeping every event in order", async () => {
    const seen: Parameters<typeof relay>[0] = [];
    // ~30 KB of JSON each: 250 of them are ~7.5 MB.
    const events = Array.from(
      { length: 250 },
      (_, i) =>
        ({
          ...EXAMPLE_EVENTS.video_data,
          user_id: `u_${i}`,
          extra_data: { pad: "x".repeat(30_000) },
        }) as BehaviorEvent,
    );
    const deliveries = await relayForwarder("http://relay.test", [SECRET], { fetcher: relay(seen) }).forward(
      events,
    );

    expect(deliveries).toHaveLength(250);
    expect(seen.length).toBeGreaterThan(7);
    for (const call of seen) {
      expect(call.signatureOk).toBe(true);
      expect(call.bytes).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
      expect(call.events.length).toBeLessThanOrEqual(100);
    }
    expect(seen.flatMap((c) => c.events.map((e) => e.user_id))).toEqual(events.map((e) => e.user_id));
  });

  it("carries what protobuf's typed fields could not: a string where the proto has an integer", async () => {
    const seen: Parameters<typeof relay>[0] = [];
    const event = {
      ...EXAMPLE_EVENTS.video_data,
      scenario_data: { video_data: { duration: "abc" } },
    } as never;
    await relayForwarder("http://relay.test", [SECRET], { fetcher: relay(seen) }).forward([event]);
    expect(seen[0]?.events[0]?.scenario_data).toEqual({ video_data: { duration: "abc" } });
  });

  it("reports per event: stored, refused for good, or to retry later", async () => {
    const seen: Parameters<typeof relay>[0] = [];
    const answers = [
      { success: true },
      { success: false, errorCode: "invalid_event", retryable: false },
      { success: false, errorCode: "sink_unavailable", retryable: true },
    ];
    const events = answers.map((_, i) => ({ ...EXAMPLE_EVENTS.video_data, position: i }) as BehaviorEvent);
    const deliveries = await relayForwarder("http://relay.test", [SECRET], {
      fetcher: relay(seen, (e) => answers[e.position as number] as (typeof answers)[0]),
    }).forward(events);
    expect(deliveries.map((d) => d.status)).toEqual(["stored", "refused", "retry"]);
    expect(deliveries[1]).toMatchObject({ code: "invalid_event" });
  });

  it("keeps the answers of the parts of a batch the relay stored when a later part fails: the rest is to retry", async () => {
    const seen: Parameters<typeof relay>[0] = [];
    const stored = relay(seen);
    let calls = 0;
    // The first call is answered; the second fails for good (a refused signature, say).
    const fetcher = (async (url: string, init: RequestInit) => {
      calls++;
      if (calls === 1) return stored(url, init);
      return new Response(JSON.stringify({ code: "unauthenticated", message: "refused" }), {
        status: 401,
        headers: { "content-type": "application/json" },
      });
    }) as typeof fetch;
    const events = Array.from(
      { length: 150 },
      (_, i) => ({ ...EXAMPLE_EVENTS.video_data, user_id: `u_${i}` }) as BehaviorEvent,
    );
    const deliveries = await relayForwarder("http://relay.test", [SECRET], { fetcher, attempts: 1 }).forward(
      events,
    );
    expect(deliveries.map((d) => d.status)).toEqual([
      ...Array(100).fill("stored"),
      ...Array(50).fill("retry"),
    ]);
  });

  it("says 'unavailable' for unreachable, 5xx and 429, and fails plainly for a refused signature", async () => {
    /** An HTTP status, with a Connect error body when the relay names a code. */
    const answering = (status: number, code?: string) =>
      (async () =>
        new Response(JSON.stringify(code ? { code, message: "refused" } : {}), {
          status,
          headers: { "content-type": "application/json" },
        })) as unknown as typeof fetch;
    const unreachable = (async () => {
      throw new TypeError("fetch failed: connection refused");
    }) as unknown as typeof fetch;
    const forward = (fetcher: typeof fetch) =>
      relayForwarder("http://relay.test", [SECRET], { fetcher, attempts: 2 }).forward([
        EXAMPLE_EVENTS.video_data as BehaviorEvent,
      ]);
    for (const fetcher of [unreachable, answering(503), answering(502), answering(429), answering(500)])
      await expect(forward(fetcher)).rejects.toBeInstanceOf(RelayUnavailableError);
    for (const fetcher of [
      answering(401, "unauthenticated"),
      answering(400, "invalid_argument"),
      answering(404),
    ]) {
      const error = await forward(fetcher).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(RelayUnavailableError);
    }
  });
});

/**
 * A relay that takes connections and closes each without a byte of answer, as a relay (or a balancer in
 * front of it) closing an idle kept-alive connection just as a call goes out on it does: `fin` once the
 * request has arrived (fetch: "other side closed"), `reset` the same with an RST (ECONNRESET), `at-once`
 * as soon as the connection is taken.
 */
const closingRelay = async (how: "fin" | "reset" | "at-once") => {
  let connections = 0;
  const server = createServer((socket: Socket) => {
    connections++;
    if (how === "at-once") socket.destroy();
    else socket.once("data", () => (how === "reset" ? socket.resetAndDestroy() : socket.destroy()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

describe("edge forwarder, when the relay closes the connection before answering", () => {
  const opened: Awaited<ReturnType<typeof closingRelay>>[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((relay) => relay.close()));
  });

  for (const how of ["fin", "reset", "at-once"] as const) {
    it(`says 'unavailable' (the events get queued), after trying again: ${how}`, async () => {
      const relay = await closingRelay(how);
      opened.push(relay);
      // Node's own fetch (undici), as the edge uses on Node and as Deno's and workerd's behave.
      const error = await relayForwarder(relay.url, [SECRET], { attempts: 2 })
        .forward([EXAMPLE_EVENTS.video_data as BehaviorEvent])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RelayUnavailableError);
      // Tried as often as for a relay that is down: each try on a connection of its own.
      expect(relay.connections()).toBe(2);
    });
  }

  it("hands refusals to the queue the same way when the quarantine call loses its connection", async () => {
    const relay = await closingRelay("fin");
    opened.push(relay);
    await expect(
      relayForwarder(relay.url, [SECRET], { attempts: 2 }).quarantine([
        { reason: "invalid_event", errors: [], event: { tenant_id: "mymx" } },
      ]),
    ).rejects.toBeInstanceOf(RelayUnavailableError);
  });
});
