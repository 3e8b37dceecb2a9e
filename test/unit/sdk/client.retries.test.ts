import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { BehaviorClient } from "../../../src/sdk/client.ts";

type Answer = { status: number; body: unknown };
type Script = (events: { event_id: string }[], call: number) => Answer;

/** An HTTP server answering each batch by `script`, recording the batches it got. */
const scripted = async (script: Script) => {
  const batches: { event_id: string }[][] = [];
  const server: Server = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk) => (text += chunk));
    req.on("end", () => {
      const { events } = JSON.parse(text) as { events: { event_id: string }[] };
      batches.push(events);
      const answer = script(events, batches.length);
      res.writeHead(answer.status, { "content-type": "application/json" });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, batches, close: () => new Promise((resolve) => server.close(resolve)) };
};

const ok = (events: { event_id: string }[]) => ({
  status: 200,
  body: { results: events.map((e, index) => ({ index, success: true, event_id: e.event_id })) },
});
const problem = (status: number, code: string) => ({ status, body: { code, detail: code } });

const click = (user: string) => ({
  tenant_id: "mymx",
  scenario_id: "vlog_feed",
  user_id: user,
  item_id: "v1",
  context: { device_type: "pc" as const },
});

let server: Awaited<ReturnType<typeof scripted>> | undefined;
afterEach(() => server?.close());

describe("the Node client's retries", () => {
  const clientFor = (url: string) =>
    new BehaviorClient({ transport: "http", url, apiKey: "svc_x", lingerMs: 1 });

  it("retries a batch the server could not take (503, 429) with the same event ids, then succeeds", async () => {
    server = await scripted((events, call) =>
      call === 1 ? problem(503, "sink_unavailable") : call === 2 ? problem(429, "rate_limited") : ok(events),
    );
    const client = clientFor(server.url);
    const outcome = await client.trackClick(click("u1"));
    expect(outcome.success).toBe(true);
    expect(server.batches).toHaveLength(3);
    const ids = server.batches.map((b) => b[0]?.event_id);
    expect(new Set(ids).size).toBe(1);
    expect(outcome.success && outcome.event_id).toBe(ids[0]);
    // received_at is the relay's to stamp; the client sends its own time as timestamp only.
    expect(server.batches[0]?.[0]).not.toHaveProperty("received_at");
    expect(server.batches[0]?.[0]).toHaveProperty("timestamp");
  });

  it("resends only the events the server called retryable", async () => {
    server = await scripted((events, call) =>
      call === 1
        ? {
            status: 200,
            body: {
              results: [
                { index: 0, success: true, event_id: events[0]?.event_id },
                {
                  index: 1,
                  success: false,
                  error_code: "sink_unavailable",
                  message: "busy",
                  retryable: true,
                },
                { index: 2, success: false, error_code: "invalid_event", message: "bad", retryable: false },
              ],
            },
          }
        : ok(events),
    );
    const client = clientFor(server.url);
    const outcomes = await Promise.all(["u1", "u2", "u3"].map((u) => client.trackClick(click(u))));
    expect(outcomes.map((o) => o.success)).toEqual([true, true, false]);
    expect(server.batches.map((b) => b.length)).toEqual([3, 1]);
    expect(server.batches[1]?.[0]?.event_id).toBe(server.batches[0]?.[1]?.event_id);
  });

  it("does not retry what retrying cannot fix (400, 401, 403)", async () => {
    for (const [status, code] of [
      [400, "invalid_request"],
      [401, "unauthenticated"],
      [403, "forbidden"],
    ] as const) {
      server = await scripted(() => problem(status, code));
      const outcome = await clientFor(server.url).trackClick(click("u1"));
      expect(outcome).toMatchObject({ success: false, error_code: code, retryable: false });
      expect(server.batches).toHaveLength(1);
      await server.close();
      server = undefined;
    }
  });

  it("gives up after its attempts when the server stays unreachable, and says it may be retried", async () => {
    server = await scripted(() => problem(503, "sink_unavailable"));
    const client = new BehaviorClient({
      transport: "http",
      url: server.url,
      apiKey: "k",
      lingerMs: 1,
      attempts: 3,
    });
    const outcome = await client.trackClick(click("u1"));
    expect(outcome).toMatchObject({ success: false, error_code: "sink_unavailable", retryable: true });
    expect(server.batches).toHaveLength(3);
  });
});
