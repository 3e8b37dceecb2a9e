import { createHmac, randomUUID } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS, quarantineTopicFor, topicFor } from "../../src/core/index.ts";
import { EdgeForwardingService } from "../../src/gen/recommender/v1/edge_pb.js";
import { startRelayAndEdge } from "../support/edge.ts";
import { readTopic } from "../support/kafka.ts";
import { freePort } from "../support/ports.ts";
import { uniqueName } from "../support/random.ts";

const brokers = inject("kafkaBrokers");
const EDGE_PORT = await freePort();
const tenant = uniqueName("signed");

/** HMAC-SHA256 hex as docs/security.md specifies it, written here independently of src/. */
const sign = (secret: string, call: string, timestamp: number, nonce: string, body: Uint8Array | string) =>
  createHmac("sha256", secret).update(`${call}.${timestamp}.${nonce}.`).update(body).digest("hex");

describe("calls between the edge and the relay are signed, timely and used once", () => {
  let stack: Awaited<ReturnType<typeof startRelayAndEdge>>;
  let forward: ReturnType<typeof createClient<typeof EdgeForwardingService>>;

  beforeAll(async () => {
    stack = await startRelayAndEdge({ brokers, tenant, edgePort: EDGE_PORT });
    forward = createClient(EdgeForwardingService, createGrpcTransport({ baseUrl: stack.relay.grpcUrl }));
  }, 180_000);

  afterAll(async () => {
    await stack?.close();
  });

  /** The JSON batch of one SPEC video event with a known id. */
  const batchOf = (eventId: string) =>
    new TextEncoder().encode(
      JSON.stringify({ events: [{ ...EXAMPLE_EVENTS.video_data, tenant_id: tenant, event_id: eventId }] }),
    );

  const codeOf = (call: Promise<unknown>) =>
    call.then(
      () => "ok",
      (error: unknown) => (error instanceof ConnectError ? Code[error.code] : String(error)),
    );

  it("ForwardEvents writes a signed batch and refuses unsigned, tampered, stale, wrongly keyed and replayed ones", async () => {
    const ids = {
      good: randomUUID(),
      unsigned: randomUUID(),
      tampered: randomUUID(),
      stale: randomUUID(),
      wrongSecret: randomUUID(),
    };
    const signed = (batch: Uint8Array, at = Date.now(), secret = stack.edgeSecret) => {
      const nonce = randomUUID();
      return {
        eventsJson: batch,
        timestampMs: BigInt(at),
        nonce,
        signature: sign(secret, "forward", at, nonce, batch),
      };
    };
    const good = signed(batchOf(ids.good));
    expect(await codeOf(forward.forwardEvents(good))).toBe("ok");
    // A service key is no substitute for the signature.
    const unsigned = forward.forwardEvents(
      {
        eventsJson: batchOf(ids.unsigned),
        timestampMs: BigInt(Date.now()),
        nonce: randomUUID(),
        signature: "",
      },
      { headers: { authorization: `Bearer ${stack.service}` } },
    );
    expect(await codeOf(unsigned)).toBe("Unauthenticated");
    // The signature of one batch on another batch.
    const tampered = { ...signed(batchOf(randomUUID())), eventsJson: batchOf(ids.tampered) };
    expect(await codeOf(forward.forwardEvents(tampered))).toBe("Unauthenticated");
    expect(await codeOf(forward.forwardEvents(signed(batchOf(ids.stale), Date.now() - 120_000)))).toBe(
      "Unauthenticated",
    );
    const wrong = signed(batchOf(ids.wrongSecret), Date.now(), "x".repeat(40));
    expect(await codeOf(forward.forwardEvents(wrong))).toBe("Unauthenticated");
    // The very same call again: refused, so the batch is not written twice.
    expect(await codeOf(forward.forwardEvents(good))).toBe("Unauthenticated");

    const written = await readTopic(brokers, topicFor(tenant), 10, 5_000, (r) =>
      Object.values(ids).some((id) => String(r.value).includes(id)),
    );
    expect(written.map((r) => JSON.parse(String(r.value)).event_id)).toEqual([ids.good]);
  });

  it("QuarantineEvents keeps signed refusals in the tenant's -rejected topic and refuses unsigned ones", async () => {
    const [kept, unsigned] = [randomUUID(), randomUUID()];
    const refusalsOf = (id: string) =>
      new TextEncoder().encode(
        JSON.stringify({
          refusals: [
            {
              reason: "invalid_event",
              errors: [{ path: "action_type", message: "must be one of …" }],
              event: { tenant_id: tenant, user_id: "u_1", action_type: "swipe", item_id: id },
            },
          ],
        }),
      );
    const at = Date.now();
    const nonce = randomUUID();
    const body = refusalsOf(kept);
    const answer = await forward.quarantineEvents({
      refusalsJson: body,
      timestampMs: BigInt(at),
      nonce,
      signature: sign(stack.edgeSecret, "quarantine", at, nonce, body),
    });
    expect(answer.quarantined).toBe(1);
    // A forward signature does not open the quarantine.
    const forged = refusalsOf(unsigned);
    const wrongPurpose = forward.quarantineEvents({
      refusalsJson: forged,
      timestampMs: BigInt(at),
      nonce: randomUUID(),
      signature: sign(stack.edgeSecret, "forward", at, nonce, forged),
    });
    expect(await codeOf(wrongPurpose)).toBe("Unauthenticated");
    const written = await readTopic(brokers, quarantineTopicFor(tenant), 10, 5_000, (r) =>
      [kept, unsigned].some((id) => String(r.value).includes(id)),
    );
    expect(written.map((r) => JSON.parse(String(r.value)))).toEqual([
      expect.objectContaining({ reason: "invalid_event", event: expect.objectContaining({ item_id: kept }) }),
    ]);
  });

  it("the feed answers signed reads only, once each, for the path that was signed", async () => {
    const path = `/api/v1/edge/tenants/${tenant}`;
    const read = (headers: Record<string, string>, at = path) =>
      fetch(`${stack.relay.httpUrl}${at}`, { headers }).then((r) => r.status);
    const headersFor = (signedPath: string, timestamp = Date.now()) => {
      const nonce = randomUUID();
      return {
        "x-edge-timestamp": String(timestamp),
        "x-edge-nonce": nonce,
        "x-edge-signature": sign(stack.edgeSecret, "feed", timestamp, nonce, signedPath),
      };
    };
    expect(await read({})).toBe(401);
    expect(await read({ authorization: `Bearer ${stack.service}` })).toBe(401);
    const good = headersFor(path);
    expect(await read(good)).toBe(200);
    expect(await read(good)).toBe(401);
    expect(await read(headersFor(path), `/api/v1/edge/tenants/${uniqueName("other")}`)).toBe(401);
    expect(await read(headersFor(path, Date.now() - 120_000))).toBe(401);
  });

  it("the edge takes pushes signed by the relay only, once each", async () => {
    const body = JSON.stringify({ tenant_id: tenant, configs: [], keys: [] });
    const push = (b: string, headers: Record<string, string>) =>
      stack.edge
        .dispatchFetch(`http://127.0.0.1:${EDGE_PORT}/api/v1/edge/push`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: b,
        })
        .then((r) => r.status);
    const headersFor = (timestamp: number, signedBody = body) => {
      const nonce = randomUUID();
      return {
        "x-edge-timestamp": String(timestamp),
        "x-edge-nonce": nonce,
        "x-edge-signature": sign(stack.edgeSecret, "push", timestamp, nonce, signedBody),
      };
    };
    expect(await push(body, {})).toBe(401);
    expect(await push(body.replace(tenant, "other"), headersFor(Date.now()))).toBe(401);
    expect(await push(body, headersFor(Date.now() - 120_000))).toBe(401);
    // A feed signature is not a push signature, though the bytes are the same.
    const asFeed = headersFor(Date.now());
    asFeed["x-edge-signature"] = sign(
      stack.edgeSecret,
      "feed",
      Number(asFeed["x-edge-timestamp"]),
      asFeed["x-edge-nonce"],
      body,
    );
    expect(await push(body, asFeed)).toBe(401);
    const good = headersFor(Date.now());
    expect(await push(body, good)).toBe(200);
    expect(await push(body, good)).toBe(401);
  });

  it("the edge forwards what it accepts through the signed path", async () => {
    const response = await stack.edge.dispatchFetch(`http://127.0.0.1:${EDGE_PORT}/api/v1/behaviors/track`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${stack.publishable}` },
      body: JSON.stringify({ ...EXAMPLE_EVENTS.video_data, tenant_id: tenant, event_id: undefined }),
    });
    expect(response.status).toBe(200);
    const { event_id } = (await response.json()) as { event_id: string };
    const landed = await readTopic(brokers, topicFor(tenant), 1, 20_000, (r) =>
      String(r.value).includes(event_id),
    );
    expect(landed).toHaveLength(1);
  });
});
