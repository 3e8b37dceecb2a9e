import { createHash } from "node:crypto";
import { type AddressInfo, createServer } from "node:net";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  type BehaviorEvent,
  type EdgeKey,
  EXAMPLE_EVENTS,
  MAX_REQUEST_BYTES,
  RateLimiter,
  type Refusal,
} from "../../../src/core/index.ts";
import { relayForwarder } from "../../../src/edge/forwarder.ts";
import { createEdgeApp } from "../../../src/edge/http/app.ts";
import {
  type Delivery,
  type EdgePorts,
  type Forwarder,
  type QueuedWork,
  RelayUnavailableError,
} from "../../../src/edge/ports.ts";
import { configFor, fixedEnvironment } from "../../support/core.ts";

const PK = "pk_demo_browser_key";
const PK_OTHER = "pk_other_tenant_key";
const SK = "sk_demo_server_key";
const ORIGIN = "https://shop.example";
const hash = (key: string) => createHash("sha256").update(key).digest("hex");

const keys: Record<string, EdgeKey> = {
  [hash(PK)]: {
    hash: hash(PK),
    kind: "publishable",
    tenant_id: "mymx",
    allowed_origins: [ORIGIN],
    revoked_at: null,
  },
  [hash(PK_OTHER)]: {
    hash: hash(PK_OTHER),
    kind: "publishable",
    tenant_id: "other",
    allowed_origins: [],
    revoked_at: null,
  },
  [hash(SK)]: {
    hash: hash(SK),
    kind: "secret",
    tenant_id: "mymx",
    allowed_origins: [],
    revoked_at: null,
  },
};

/** The SPEC §6 example: the vlog_feed video event, as a browser sends it (no ids, no timestamp). */
const {
  event_id: _i,
  timestamp: _t,
  ...specEvent
} = { ...EXAMPLE_EVENTS.video_data, event_id: "", timestamp: 0 };

/** `forwarder`: the edge's calls to the relay; a fake driven by `state` when absent. */
const setup = (bodyBudgetBytes?: number, forwarder?: Forwarder, limiter?: EdgePorts["limiter"]) => {
  const forwarded: BehaviorEvent[] = [];
  const queued: BehaviorEvent[] = [];
  const queuedWork: QueuedWork[] = [];
  const quarantined: Refusal[] = [];
  const state: {
    relayDown: boolean;
    queueDown: boolean;
    relayBroken: boolean;
    /** What the relay answers for an event, when not "stored". */
    answer?: (event: BehaviorEvent) => Delivery | undefined;
  } = { relayDown: false, queueDown: false, relayBroken: false };
  const ports: EdgePorts = {
    directory: {
      tenant: async (tenant) =>
        tenant === "mymx"
          ? { configs: [configFor("video_data", { tenant_id: "mymx", scenario_id: "vlog_feed" })], keys: [] }
          : undefined,
      key: async (h) => keys[h],
    },
    forwarder: forwarder ?? {
      forward: async (events) => {
        if (state.relayDown) throw new RelayUnavailableError("relay unreachable");
        if (state.relayBroken) throw new Error("the relay refused the signature");
        return events.map((event): Delivery => {
          const answer = state.answer?.(event) ?? { status: "stored" };
          if (answer.status === "stored") forwarded.push(event);
          return answer;
        });
      },
      quarantine: async (refusals) => {
        if (state.relayDown) throw new RelayUnavailableError("relay unreachable");
        quarantined.push(...refusals);
      },
    },
    queue: {
      enqueue: async (work) => {
        if (state.queueDown) throw new Error("queue unavailable");
        queuedWork.push(work);
        if ("events" in work) queued.push(...work.events);
      },
    },
    clientInfo: () => ({ ip: "203.0.113.7", location: "CN-SH" }),
    limiter: limiter ?? { take: () => 0 },
    bodyBudgetBytes,
    env: fixedEnvironment(),
  };
  const app = createEdgeApp(ports);
  const send = (path: string, body: string | Uint8Array, headers: Record<string, string> = {}) =>
    app.request(path, { method: "POST", body, headers });
  const json = (path: string, value: unknown, headers: Record<string, string> = {}) =>
    send(path, JSON.stringify(value), {
      "content-type": "application/json",
      authorization: `Bearer ${PK}`,
      ...headers,
    });
  return { app, send, json, forwarded, queued, queuedWork, quarantined, state };
};

describe("edge app", () => {
  it("tracks the SPEC example, filling id, timestamp, received_at, ip and location", async () => {
    const { json, forwarded } = setup();
    const response = await json("/api/v1/behaviors/track", specEvent);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { event_id: string };
    expect(forwarded).toEqual([
      expect.objectContaining({
        event_id: body.event_id,
        tenant_id: "mymx",
        timestamp: expect.any(Number),
        received_at: expect.any(Number),
        context: expect.objectContaining({ ip: "203.0.113.7", location: "上海" }),
      }),
    ]);
  });

  it("accepts a text/plain beacon with the key in the query, and leaves out the ip on request", async () => {
    const { send, forwarded } = setup();
    const response = await send(`/api/v1/behaviors/collect?key=${PK}&ip=omit`, JSON.stringify(specEvent), {
      "content-type": "text/plain",
    });
    expect(response.status).toBe(200);
    expect(forwarded[0]?.context.ip).toBeUndefined();
  });

  it("writes the connecting address over a client-sent ip, and flags a crawler's events", async () => {
    const { json, forwarded } = setup();
    const claimed = { ...specEvent, context: { ...specEvent.context, ip: "198.51.100.1" } };
    const response = await json("/api/v1/behaviors/track", claimed, {
      "user-agent": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    });
    expect(response.status).toBe(200);
    expect(forwarded[0]?.context).toEqual({ ...specEvent.context, ip: "203.0.113.7", bot: true });
  });

  it("detects gzip from the bytes even when the headers do not say so", async () => {
    const { send, forwarded } = setup();
    const body = gzipSync(JSON.stringify({ events: [specEvent, specEvent] }));
    const response = await send(`/api/v1/behaviors/collect?key=${PK}`, body, {
      "content-type": "text/plain",
    });
    expect(response.status).toBe(200);
    expect(forwarded).toHaveLength(2);
  });

  it("stops a gzip bomb at the decompressed limit with 413", async () => {
    const { send } = setup();
    const bomb = gzipSync(Buffer.alloc(MAX_REQUEST_BYTES * 8, 0x20));
    expect(bomb.length).toBeLessThan(MAX_REQUEST_BYTES);
    const response = await send(`/api/v1/behaviors/collect?key=${PK}`, bomb, {
      "content-type": "text/plain",
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: "payload_too_large" });
  });

  it("counts raw and inflated body bytes against the isolate's body budget: 429 beyond it, given back after each request", async () => {
    const { json, send, forwarded } = setup(64 * 1024);
    for (let i = 0; i < 5; i++) expect((await json("/api/v1/behaviors/track", specEvent)).status).toBe(200);
    // 1 KB on the wire, 100 KB inflated: the budget counts what the isolate holds.
    const inflates = gzipSync(JSON.stringify({ ...specEvent, extra_data: { pad: " ".repeat(100_000) } }));
    const response = await send(`/api/v1/behaviors/collect?key=${PK}`, inflates, {
      "content-type": "text/plain",
    });
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(await response.json()).toMatchObject({ code: "overloaded", retryable: true });
    expect((await json("/api/v1/behaviors/track", specEvent)).status).toBe(200);
    expect(forwarded).toHaveLength(6);
  });

  it("answers a batch of 100 with per-event results", async () => {
    const { json, forwarded } = setup();
    const events = Array.from({ length: 100 }, (_, i) =>
      i % 10 === 0 ? { ...specEvent, action_type: "swipe" } : specEvent,
    );
    const response = await json("/api/v1/behaviors/track/batch", { events });
    const body = (await response.json()) as {
      total: number;
      succeeded: number;
      failed: number;
      results: { success: boolean; errors?: { path: string }[] }[];
    };
    expect([body.total, body.succeeded, body.failed]).toEqual([100, 90, 10]);
    expect(body.results[0]?.errors?.[0]?.path).toBe("action_type");
    expect(forwarded).toHaveLength(90);
  });

  it("grants CORS only to an allowed origin, and lets any page read why it was refused", async () => {
    const { json, app, forwarded } = setup();
    const allowed = await json("/api/v1/behaviors/track", specEvent, { origin: ORIGIN });
    expect(allowed.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(forwarded).toHaveLength(1);
    const denied = await json("/api/v1/behaviors/track", specEvent, { origin: "https://evil.example" });
    expect(denied.status).toBe(403);
    // The refusal is readable, so a tracker on that page stops instead of retrying; nothing was taken.
    expect(denied.headers.get("access-control-allow-origin")).toBe("https://evil.example");
    expect(await denied.json()).toMatchObject({
      code: "forbidden",
      detail: expect.stringContaining("origin"),
    });
    expect(forwarded).toHaveLength(1);
    const preflight = await app.request(`/api/v1/behaviors/track?key=${PK}`, {
      method: "OPTIONS",
      headers: { origin: ORIGIN },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    const refused = await app.request(`/api/v1/behaviors/track?key=${PK}`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example" },
    });
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("refuses a missing or wrong key with 401 and another tenant's key with 403", async () => {
    const { json } = setup();
    expect((await json("/api/v1/behaviors/track", specEvent, { authorization: "" })).status).toBe(401);
    expect(
      (await json("/api/v1/behaviors/track", specEvent, { authorization: "Bearer pk_wrong" })).status,
    ).toBe(401);
    expect(
      (await json("/api/v1/behaviors/track", specEvent, { authorization: `Bearer ${PK_OTHER}` })).status,
    ).toBe(403);
  });

  it("takes publishable keys only: a secret key is refused with 403 saying why, from any origin", async () => {
    const { json, send, forwarded } = setup();
    const origins: Record<string, string>[] = [{}, { origin: ORIGIN }, { origin: "https://evil.example" }];
    for (const headers of origins) {
      const response = await json("/api/v1/behaviors/track", specEvent, {
        authorization: `Bearer ${SK}`,
        ...headers,
      });
      expect(response.status).toBe(403);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect(await response.json()).toMatchObject({
        code: "forbidden",
        detail: expect.stringMatching(/publishable keys .* only; a secret key belongs on a server/),
      });
    }
    const beacon = await send(`/api/v1/behaviors/collect?key=${SK}`, JSON.stringify(specEvent));
    expect(beacon.status).toBe(403);
    expect(forwarded).toHaveLength(0);
  });

  it("charges a forged tenant's events to the key and the address, never to the tenant named", async () => {
    const limiter = new RateLimiter(
      { perKey: 1000, perTenant: 1000, tenantOverrides: { other: 100 } },
      () => 1_000_000,
    );
    const { json, app, forwarded } = setup(undefined, undefined, limiter);
    const batchOf = (tenant: string, n: number) => ({
      events: Array.from({ length: n }, () => ({ ...specEvent, tenant_id: tenant })),
    });
    // mymx's key sends 300 events claiming "other", whose own limit is 100: all refused as not theirs…
    for (let i = 0; i < 3; i++) {
      const forged = await json("/api/v1/behaviors/track/batch", batchOf("other", 100));
      expect(forged.status).toBe(200);
      expect(await forged.json()).toMatchObject({ succeeded: 0, failed: 100 });
    }
    // …and "other" still has all of its own second: its key's 100 events are accepted.
    const own = await json("/api/v1/behaviors/track/batch", batchOf("other", 100), {
      authorization: `Bearer ${PK_OTHER}`,
    });
    expect(await own.json()).toMatchObject({ succeeded: 100 });
    expect(forwarded).toHaveLength(100);
    // The address paid for the forged events too: with a second key from the same address, forging
    // is held to one key's rate (1000) although each key alone has room left.
    const second = await json("/api/v1/behaviors/track/batch", batchOf("mymx", 100), {
      authorization: `Bearer ${PK_OTHER}`,
    });
    expect(await second.json()).toMatchObject({ failed: 100 }); // key: 200, address: 400
    for (let i = 0; i < 6; i++) {
      const forged = await json("/api/v1/behaviors/track/batch", batchOf("other", 100));
      expect(forged.status).toBe(200); // the key reaches 900, the address 1000
    }
    const over = await json("/api/v1/behaviors/track/batch", batchOf("other", 100));
    expect(over.status).toBe(429); // the key (1000 of 1000) would pass; the address (1100) does not
    // What the keys may write still passes: authorized events are not charged to the address.
    expect((await json("/api/v1/behaviors/track/batch", batchOf("mymx", 100))).status).toBe(200);
    const metrics = await (await app.request("/metrics")).text();
    expect(metrics).toContain('edge_events_forbidden_total{key_tenant="mymx"} 900');
    expect(metrics).toContain('edge_events_forbidden_total{key_tenant="other"} 100');
  });

  it("refuses a Content-Encoding other than gzip with 415", async () => {
    const { send } = setup();
    const response = await send("/api/v1/behaviors/track", JSON.stringify(specEvent), {
      "content-type": "application/json",
      "content-encoding": "br",
      authorization: `Bearer ${PK}`,
    });
    expect(response.status).toBe(415);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(await response.json()).toMatchObject({
      code: "unsupported_media_type",
      detail: expect.stringContaining("br"),
    });
    const gzipped = await send("/api/v1/behaviors/track", gzipSync(JSON.stringify(specEvent)), {
      "content-type": "application/json",
      "content-encoding": "gzip",
      authorization: `Bearer ${PK}`,
    });
    expect(gzipped.status).toBe(200);
  });

  it("queues accepted events when the relay cannot take them (202), and says retry when nothing can (503)", async () => {
    const { json, queued, state } = setup();
    state.relayDown = true;
    const response = await json("/api/v1/behaviors/track", specEvent);
    expect(response.status).toBe(202);
    const body = (await response.json()) as { event_id: string };
    expect(queued.map((e) => e.event_id)).toEqual([body.event_id]);
    state.queueDown = true;
    const refused = await json("/api/v1/behaviors/track", specEvent);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ retryable: true });
  });

  it("queues (202), never 5xx, when the relay closes the connection before answering", async () => {
    // A relay, or a balancer in front of it, that closes each connection once the call has arrived: what
    // the edge's fetch meets when an idle kept-alive connection is closed just as a call goes out on it.
    const relay = createServer((socket) => socket.once("data", () => socket.destroy()));
    await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
      const { json, queued } = setup(undefined, relayForwarder(url, ["f".repeat(40)], { attempts: 2 }));
      const response = await json("/api/v1/behaviors/track", specEvent);
      expect(response.status).toBe(202);
      const body = (await response.json()) as { event_id: string };
      expect(queued.map((e) => e.event_id)).toEqual([body.event_id]);
    } finally {
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  });

  it("gives a clear 4xx for malformed input", async () => {
    const { send } = setup();
    const auth = { authorization: `Bearer ${PK}` };
    expect(
      (await send("/api/v1/behaviors/track", "{", { ...auth, "content-type": "application/json" })).status,
    ).toBe(400);
    expect(
      (await send("/api/v1/behaviors/track", "a,b", { ...auth, "content-type": "text/csv" })).status,
    ).toBe(415);
    expect(
      (
        await send("/api/v1/behaviors/track", new Uint8Array([0x7b, 0xff, 0x7d]), {
          ...auth,
          "content-type": "text/plain",
        })
      ).status,
    ).toBe(400);
    const huge = await send("/api/v1/behaviors/track", "x".repeat(MAX_REQUEST_BYTES + 1), {
      ...auth,
      "content-type": "text/plain",
    });
    expect(huge.status).toBe(413);
  });

  it("fills device_type and os from the user agent only when the client gave none", async () => {
    const { json, forwarded } = setup();
    const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15";
    const tablet = "Mozilla/5.0 (Linux; Android 14; SM-T870) AppleWebKit/537.36";
    await json("/api/v1/behaviors/track", { ...specEvent, context: {} }, { "user-agent": iphone });
    await json("/api/v1/behaviors/track", specEvent, { "user-agent": tablet });
    expect(forwarded[0]?.context).toMatchObject({ device_type: "mobile", os: "iOS 17.2" });
    // The client said mobile / iOS 17.2 itself: the Android tablet user agent changes nothing.
    expect(forwarded[1]?.context).toMatchObject({ device_type: "mobile", os: "iOS 17.2" });
  });

  it("accepts a wrongly typed scenario value with a warning and forwards it unchanged", async () => {
    const { json, forwarded } = setup();
    const response = await json("/api/v1/behaviors/track/batch", {
      events: [
        { ...specEvent, action_type: "click" },
        { ...specEvent, scenario_data: { video_data: { duration: "abc" } } },
      ],
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { results: { validation_warnings: { path: string }[] }[] };
    expect(body.results[1]?.validation_warnings.map((w) => w.path)).toContain(
      "scenario_data.video_data.duration",
    );
    expect(forwarded[1]?.scenario_data).toEqual({ video_data: { duration: "abc" } });
  });

  it("answers the relay's refusals as refusals, never as queued, and queues only what it could not store", async () => {
    const { json, queued, state } = setup();
    state.answer = (event) =>
      event.item_id === "refused"
        ? {
            status: "refused",
            code: "invalid_event",
            message: "strict config",
            errors: [{ path: "x", code: "invalid_value", message: "bad" }],
          }
        : event.item_id === "later"
          ? { status: "retry" }
          : undefined;
    const single = await json("/api/v1/behaviors/track", { ...specEvent, item_id: "refused" });
    expect(single.status).toBe(400);
    expect(await single.json()).toMatchObject({ code: "invalid_event", errors: [{ path: "x" }] });
    const batch = await json("/api/v1/behaviors/track/batch", {
      events: [specEvent, { ...specEvent, item_id: "refused" }, { ...specEvent, item_id: "later" }],
    });
    expect(batch.status).toBe(202);
    const body = (await batch.json()) as {
      succeeded: number;
      results: { success: boolean; error_code?: string }[];
    };
    expect(body.succeeded).toBe(2);
    expect(body.results.map((r) => r.error_code ?? "ok")).toEqual(["ok", "invalid_event", "ok"]);
    expect(queued.map((e) => e.item_id)).toEqual(["later"]);
  });

  it("when the queue fails too, refuses (retryable) only the events that are nowhere, never those the relay stored", async () => {
    const { json, forwarded, state } = setup();
    state.answer = (event) => (event.item_id === "later" ? { status: "retry" } : undefined);
    state.queueDown = true;
    const batch = await json("/api/v1/behaviors/track/batch", {
      events: [specEvent, { ...specEvent, item_id: "later" }],
    });
    expect(batch.status).toBe(200);
    const body = (await batch.json()) as {
      results: { success: boolean; error_code?: string; retryable?: boolean }[];
    };
    expect(
      body.results.map((r) => (r.success ? "stored" : `${r.error_code} retryable=${r.retryable}`)),
    ).toEqual(["stored", "sink_unavailable retryable=true"]);
    expect(forwarded.map((e) => e.item_id)).toEqual([specEvent.item_id]);
    // Not one stored, only for that reason: the whole call says retry.
    const nothing = await json("/api/v1/behaviors/track/batch", {
      events: [
        { ...specEvent, item_id: "later" },
        { ...specEvent, item_id: "later" },
      ],
    });
    expect(nothing.status).toBe(503);
    expect(await nothing.json()).toMatchObject({ code: "sink_unavailable", retryable: true });
  });

  it("answers 500 and queues nothing when the relay fails for a reason that is not 'unreachable'", async () => {
    const { json, queued, state } = setup();
    state.relayBroken = true;
    const response = await json("/api/v1/behaviors/track", specEvent);
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ code: "internal", retryable: true });
    expect(queued).toEqual([]);
  });

  it("keeps the events it refuses in quarantine (or the queue), counted by reason at /metrics", async () => {
    const { json, app, quarantined, queuedWork, state } = setup();
    await json("/api/v1/behaviors/track/batch", {
      events: [specEvent, { ...specEvent, action_type: "swipe" }, { ...specEvent, tenant_id: "other" }],
    });
    // The forged tenant is not kept: it must not reach anyone's topic.
    expect(quarantined.map((r) => [r.reason, (r.event as BehaviorEvent).action_type])).toEqual([
      ["invalid_event", "swipe"],
    ]);
    state.relayDown = true;
    await json("/api/v1/behaviors/track", { ...specEvent, user_id: "" });
    expect(queuedWork).toEqual([{ refusals: [expect.objectContaining({ reason: "invalid_event" })] }]);
    const metrics = await (await app.request("/metrics")).text();
    expect(metrics).toContain('edge_events_refused_total{reason="invalid_event"} 2');
    expect(metrics).toContain('edge_events_refused_total{reason="forbidden"} 1');
    expect(metrics).toContain('edge_events_quarantined_total{reason="invalid_event"} 1');
    expect(metrics).toContain("edge_quarantine_queued_total 1");
  });

  it("keeps a refused event nested too deep to serialise again, as its tenant, user and id", async () => {
    const { send, quarantined } = setup();
    const depth = 100_000;
    const nested = `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
    const body = JSON.stringify(specEvent).replace(/}$/, `,"extra_data":${nested}}`);
    const response = await send("/api/v1/behaviors/track", body, {
      "content-type": "application/json",
      authorization: `Bearer ${PK}`,
    });
    expect(response.status).toBe(400);
    expect(quarantined).toEqual([
      expect.objectContaining({
        reason: "invalid_event",
        event: expect.objectContaining({ tenant_id: "mymx", user_id: specEvent.user_id, truncated: true }),
      }),
    ]);
    // What travels to the relay or the queue serialises.
    expect(() => JSON.stringify(quarantined)).not.toThrow();
  });
});

describe("the edge's request durations", () => {
  it("are a histogram on /metrics by route pattern, method and status", async () => {
    const { app, json } = setup();
    await json("/api/v1/behaviors/track", specEvent);
    await json("/api/v1/behaviors/track", { not: "an event" });
    const text = await (await app.request("/metrics")).text();
    expect(text).toContain("# TYPE edge_request_duration_seconds histogram");
    expect(text).toMatch(
      /^edge_request_duration_seconds_count\{route="\/api\/v1\/behaviors\/track",method="POST",status="200"\} 1$/m,
    );
    expect(text).toMatch(
      /^edge_request_duration_seconds_bucket\{route="\/api\/v1\/behaviors\/track",method="POST",status="400",le="\+Inf"\} 1$/m,
    );
  });
});
