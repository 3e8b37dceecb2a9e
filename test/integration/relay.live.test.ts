// The relay's live view: a tenant's events as Server-Sent Events, read from Kafka as they land.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS } from "../../src/core/index.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const brokers = inject("kafkaBrokers");
const ADMIN = `admin_${uniqueName("live")}`;
const KEY = `svc_${uniqueName("live")}`;

/** Reads a Server-Sent Events response, handing each event to `on` until it returns true. */
const readEvents = async (
  response: Response,
  on: (event: { type: string; data: string }) => boolean,
  timeoutMs = 30_000,
) => {
  const reader = (response.body as ReadableStream<Uint8Array>)
    .pipeThrough(new TextDecoderStream())
    .getReader();
  const timer = setTimeout(() => void reader.cancel(), timeoutMs);
  let buffer = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return false;
      buffer += value;
      let end = buffer.indexOf("\n\n");
      while (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
        const data = [...block.matchAll(/^data: (.*)$/gm)].map((m) => m[1]).join("\n");
        if (!block.startsWith(":") && on({ type, data })) return true;
        end = buffer.indexOf("\n\n");
      }
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => undefined);
  }
};

describe("the relay's live view of a tenant's events", () => {
  let relay: Awaited<ReturnType<typeof startTestRelay>>;
  const tenant = uniqueName("live");
  const live = (token: string, query = "", of = tenant) =>
    fetch(`${relay.httpUrl}/api/v1/tenants/${of}/events/live${query}`, {
      headers: { authorization: `Bearer ${token}` },
    });
  const track = (event: unknown) =>
    fetch(`${relay.httpUrl}/api/v1/behaviors/track`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify(event),
    });

  beforeAll(async () => {
    relay = await startTestRelay(brokers, [`${KEY}=*`], {
      env: { ADMIN_TOKEN: ADMIN, LIVE_STREAMS_MAX: "3", LIVE_STREAMS_PER_TENANT: "2" },
    });
  });
  afterAll(async () => {
    await relay?.close();
  });

  it("streams accepted events with their warnings and refused ones with their reasons, as they land", async () => {
    // An event from before the view: with no backlog asked for, it is not shown. The quarantine topic
    // does not exist yet: the view waits for it. Whatever lands once the view was asked for is shown,
    // however soon after: the tracking starts as soon as the view says it is ready.
    const base = { ...EXAMPLE_EVENTS.video_data, tenant_id: tenant };
    expect((await track({ ...base, user_id: "u_before" })).status).toBe(200);
    const response = await live(ADMIN, "?last=0");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const seen: Record<string, unknown>[] = [];
    const done = await readEvents(response, ({ type, data }) => {
      if (type === "ready") {
        void track({ ...base, user_id: "u_live", scenario_data: { video_data: { duration: "abc" } } });
        void track({ ...base, user_id: "u_refused", action_type: "swipe" });
        return false;
      }
      seen.push({ type, ...JSON.parse(data) });
      // Once both are in, one more: it must arrive while the view is open.
      if (seen.length === 2) void track({ ...base, user_id: "u_later" });
      return seen.length === 3;
    });
    expect(done).toBe(true);
    expect(seen.find((e) => (e.event as { user_id?: string })?.user_id === "u_live")).toMatchObject({
      type: "accepted",
      kind: "accepted",
      event: { tenant_id: tenant },
      warnings: expect.arrayContaining([
        expect.objectContaining({ path: "scenario_data.video_data.duration" }),
      ]),
    });
    expect(seen.find((e) => e.kind === "rejected")).toMatchObject({
      type: "rejected",
      reason: "invalid_event",
      errors: [expect.objectContaining({ path: "action_type" })],
      event: expect.objectContaining({ user_id: "u_refused" }),
    });
    expect(seen[2]).toMatchObject({ kind: "accepted", event: { user_id: "u_later" } });
    expect(seen.map((e) => (e.event as { user_id?: string })?.user_id)).not.toContain("u_before");
  });

  it("needs a credential, keeps a share of the views for every tenant, and serves at most LIVE_STREAMS_MAX", async () => {
    expect((await live("sk_nobody")).status).toBe(401);
    const other = uniqueName("live");
    const third = uniqueName("live");
    /** Opens a view once the relay has one free: a closed view is given back once its consumer closes. */
    const free = async (of = tenant) => {
      let response: Response | undefined;
      await expect
        .poll(
          async () => {
            await response?.body?.cancel();
            response = await live(ADMIN, "", of);
            return response.status;
          },
          { timeout: 15_000 },
        )
        .toBe(200);
      return response as Response;
    };
    // The tenant opens its share (LIVE_STREAMS_PER_TENANT is 2): a third view of its own is refused…
    const first = await free();
    const second = await free();
    const beyondShare = await live(ADMIN);
    expect(beyondShare.status).toBe(429);
    expect(await beyondShare.json()).toMatchObject({ code: "rate_limited", retryable: true });
    // …while another tenant still opens one, the relay's last (LIVE_STREAMS_MAX is 3).
    const others = await live(ADMIN, "", other);
    expect(others.status).toBe(200);
    const metrics = await (await fetch(`${relay.httpUrl}/metrics`)).text();
    expect(metrics).toContain(`relay_live_streams_open{tenant="${tenant}"} 2`);
    expect(metrics).toContain(`relay_live_streams_open{tenant="${other}"} 1`);
    const full = await live(ADMIN, "", third);
    expect(full.status).toBe(429);
    expect(await full.json()).toMatchObject({ code: "overloaded", retryable: true });
    await first.body?.cancel();
    const again = await free(third);
    for (const view of [second, others, again]) await view.body?.cancel();
  });
});
