import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createTracker, type TrackerEnvironment, type TrackerOptions } from "../../../src/sdk/browser.ts";

type Sent = {
  via: "fetch" | "beacon";
  url: string;
  events: { event_id: string; item_id: string }[];
  bytes: number;
};

/** A page's browser APIs in memory: what was fetched and beaconed, a storage, and the leave hook. */
const fakePage = (answer: (events: unknown[]) => { status: number; body?: unknown } | Error) => {
  const sent: Sent[] = [];
  const store = new Map<string, string>();
  let leave = () => {};
  const record = (via: Sent["via"], url: string, body: string) => {
    const events = (JSON.parse(body) as { events: Sent["events"] }).events;
    sent.push({ via, url, events, bytes: new TextEncoder().encode(body).length });
    return events;
  };
  const env: TrackerEnvironment = {
    fetch: async (url, init) => {
      const reply = answer(record("fetch", url, init.body));
      if (reply instanceof Error) throw reply;
      return { ok: reply.status < 300, status: reply.status, json: async () => reply.body ?? {} };
    },
    sendBeacon: (url, body) => {
      record("beacon", url, body);
      return true;
    },
    storage: {
      getItem: (k) => store.get(k) ?? null,
      setItem: (k, v) => void store.set(k, v),
      removeItem: (k) => void store.delete(k),
      key: (i) => [...store.keys()][i] ?? null,
      get length() {
        return store.size;
      },
    },
    onLeave: (listener) => {
      leave = listener;
    },
    randomBytes: (bytes) => crypto.getRandomValues(bytes),
  };
  /** Unacknowledged events stored for the next page (the ids the tracker keeps are not events). */
  const pending = () => [...store.keys()].filter((k) => k.startsWith("behavior-ingest:"));
  return { env, sent, store, pending, leave: () => leave() };
};

const accepted = (events: unknown[]) => ({
  status: 200,
  body: { results: events.map((_, index) => ({ index, success: true })) },
});

const options: TrackerOptions = {
  endpoint: "https://edge.example/",
  key: "pk_demo key",
  tenantId: "mymx",
  scenarioId: "vlog_feed",
  userId: "u_1",
};

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("the browser tracker", () => {
  it("sends impressions every second or every 10 events, and clicks at once", async () => {
    const page = fakePage(accepted);
    const tracker = createTracker(options, page.env);
    for (let i = 0; i < 3; i++) tracker.impression(`v${i}`, { position: i });
    await vi.advanceTimersByTimeAsync(900);
    expect(page.sent).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(200);
    expect(page.sent.map((s) => s.events.length)).toEqual([3]);
    for (let i = 0; i < 10; i++) tracker.impression(`w${i}`);
    await vi.advanceTimersByTimeAsync(1);
    expect(page.sent.map((s) => s.events.length)).toEqual([3, 10]);
    tracker.click("v1");
    await vi.advanceTimersByTimeAsync(1);
    expect(page.sent.at(-1)?.events).toMatchObject([{ item_id: "v1", action_type: "click", user_id: "u_1" }]);
    expect(page.sent[0]?.url).toBe("https://edge.example/api/v1/behaviors/collect?key=pk_demo%20key");
    expect(page.sent[0]?.events[0]).toMatchObject({
      tenant_id: "mymx",
      scenario_id: "vlog_feed",
      event_id: expect.stringMatching(/^evt_[0-9a-f]{16}$/),
      timestamp: expect.any(Number),
    });
    expect(page.pending()).toEqual([]); // everything acknowledged, nothing left stored
  });

  it("retries what the edge could not take, with the same event ids, backing off", async () => {
    let calls = 0;
    const page = fakePage((events) =>
      ++calls <= 2 ? (calls === 1 ? new Error("offline") : { status: 503 }) : accepted(events),
    );
    const tracker = createTracker(options, page.env);
    tracker.click("v1");
    await vi.advanceTimersByTimeAsync(1);
    expect(page.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(990);
    expect(page.sent).toHaveLength(1); // waits a second after the first failure
    await vi.advanceTimersByTimeAsync(10);
    expect(page.sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(2000);
    expect(page.sent).toHaveLength(3);
    expect(new Set(page.sent.map((s) => s.events[0]?.event_id)).size).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(page.sent).toHaveLength(3);
  });

  it("reports refused events and does not retry them; retries only the retryable ones of a batch", async () => {
    const refused: unknown[] = [];
    let calls = 0;
    const page = fakePage((events) =>
      ++calls === 1
        ? {
            status: 200,
            body: {
              results: [
                { index: 0, success: false, retryable: false },
                { index: 1, success: false, retryable: true },
                { index: 2, success: true },
              ],
            },
          }
        : accepted(events),
    );
    const tracker = createTracker({ ...options, onError: (_, events) => refused.push(...events) }, page.env);
    for (const item of ["bad", "busy", "good"]) tracker.impression(item);
    await tracker.flush();
    await vi.advanceTimersByTimeAsync(5000);
    expect(refused).toMatchObject([{ item_id: "bad" }]);
    expect(page.sent.map((s) => s.events.map((e) => e.item_id))).toEqual([["bad", "busy", "good"], ["busy"]]);
  });

  it("drops a batch the edge refuses with a 4xx other than 408 and 429, counts it and reports the problem", async () => {
    const problem = {
      type: "urn:behavior-ingest:problem:forbidden",
      title: "Not allowed for this key",
      status: 403,
      detail: "origin https://shop.example is not allowed for this key",
      code: "forbidden",
      retryable: false,
    };
    const page = fakePage(() => ({ status: 403, body: problem }));
    const reports: [string, unknown[], unknown][] = [];
    const tracker = createTracker(
      { ...options, onError: (reason, events, details) => reports.push([reason, events, details]) },
      page.env,
    );
    tracker.click("v1");
    tracker.click("v2");
    await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(page.sent).toHaveLength(1); // final: never sent again
    expect(reports).toHaveLength(1);
    expect(reports[0]?.[0]).toBe("forbidden");
    expect(reports[0]?.[1]).toMatchObject([{ item_id: "v1" }, { item_id: "v2" }]);
    expect(reports[0]?.[2]).toMatchObject({ status: 403, code: "forbidden", detail: problem.detail });
    expect(tracker.dropped()).toEqual({ refused: 2, overflow: 0 });
    expect(page.pending()).toEqual([]); // nothing kept for the next page to send again
  });

  it("keeps retrying 408 and 429, and reports a 4xx without a problem body by its status", async () => {
    let calls = 0;
    const page = fakePage(() => ({ status: ++calls === 1 ? 408 : calls === 2 ? 429 : 401, body: "no" }));
    const reasons: string[] = [];
    const tracker = createTracker({ ...options, onError: (reason) => reasons.push(reason) }, page.env);
    tracker.click("v1");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(page.sent).toHaveLength(3);
    expect(reasons).toEqual(["refused with 401"]);
    expect(tracker.dropped().refused).toBe(1);
  });

  it("bounds what waits in events and bytes, dropping the oldest with a count", async () => {
    const offline = fakePage(() => new Error("offline"));
    const full: unknown[] = [];
    const tracker = createTracker(
      {
        ...options,
        maxStoredEvents: 5,
        maxStoredBytes: 2000,
        onError: (reason, events) => reason === "queue full" && full.push(...events),
      },
      offline.env,
    );
    for (let i = 0; i < 8; i++) tracker.impression(`v${i}`);
    const stored = () =>
      offline.pending().flatMap((k) => JSON.parse(offline.store.get(k) as string) as { item_id: string }[]);
    expect(stored().map((e) => e.item_id)).toEqual(["v3", "v4", "v5", "v6", "v7"]);
    expect(tracker.dropped()).toEqual({ refused: 0, overflow: 3 });
    // Events of ~850 bytes: the byte bound (2000) leaves room for two of them, the newest.
    for (let i = 0; i < 3; i++) tracker.impression(`big${i}`, { extra_data: { padding: "x".repeat(600) } });
    expect(stored().map((e) => e.item_id)).toEqual(["big1", "big2"]);
    expect(new TextEncoder().encode(JSON.stringify(stored())).length).toBeLessThanOrEqual(2000);
    expect(tracker.dropped()).toEqual({ refused: 0, overflow: 9 });
    expect(full).toHaveLength(9);
    // What a next page adopts is held to its own bounds.
    const next = fakePage(() => new Error("offline"));
    for (const [k, v] of offline.store) next.store.set(k, v);
    const adopting = createTracker({ ...options, maxStoredEvents: 1 }, next.env);
    expect(adopting.dropped()).toEqual({ refused: 0, overflow: 1 });
  });

  it("on pagehide hands the queue to sendBeacon in bodies under 60 KB", async () => {
    const page = fakePage(accepted);
    const tracker = createTracker(options, page.env);
    const padding = "x".repeat(3000);
    for (let i = 0; i < 50; i++) tracker.impression(`v${i}`, { extra_data: { padding } });
    page.sent.length = 0; // the full batches already went by fetch
    tracker.impression("last");
    for (let i = 0; i < 40; i++)
      tracker.track({ item_id: `p${i}`, action_type: "view", extra_data: { padding } });
    const queued = page.sent.length;
    page.leave();
    const beacons = page.sent.slice(queued).filter((s) => s.via === "beacon");
    expect(beacons.length).toBeGreaterThan(1);
    for (const beacon of beacons) expect(beacon.bytes).toBeLessThanOrEqual(60_000);
    expect(beacons.flatMap((b) => b.events.map((e) => e.item_id))).toContain("last");
  });

  it("keeps unacknowledged events in localStorage and the next page sends them with their ids", async () => {
    const offline = fakePage(() => new Error("offline"));
    const first = createTracker(options, offline.env);
    first.impression("v1");
    first.click("v2");
    await vi.advanceTimersByTimeAsync(1);
    const stored = offline
      .pending()
      .flatMap((k) => JSON.parse(offline.store.get(k) as string) as { event_id: string }[]);
    expect(stored.map((e) => e.event_id)).toHaveLength(2);

    const online = fakePage(accepted);
    for (const [k, v] of offline.store) online.store.set(k, v);
    createTracker(options, online.env);
    await vi.advanceTimersByTimeAsync(1);
    expect(online.sent.flatMap((s) => s.events.map((e) => e.event_id)).sort()).toEqual(
      stored.map((e) => e.event_id).sort(),
    );
    expect(online.pending()).toEqual([]);
  });

  it("never throws into the page, whatever the browser does", async () => {
    const page = fakePage(accepted);
    const broken: TrackerEnvironment = {
      ...page.env,
      fetch: () => {
        throw new TypeError("blocked by an extension");
      },
      sendBeacon: () => {
        throw new TypeError("no beacons");
      },
      storage: {
        ...(page.env.storage as NonNullable<TrackerEnvironment["storage"]>),
        setItem: () => {
          throw new DOMException("quota", "QuotaExceededError");
        },
      },
    };
    const tracker = createTracker(
      {
        ...options,
        onError: () => {
          throw new Error("bad handler");
        },
      },
      broken,
    );
    expect(() => {
      tracker.click("v1");
      tracker.impression("v2");
      tracker.track(undefined as never);
    }).not.toThrow();
    await vi.advanceTimersByTimeAsync(5000);
    await expect(tracker.flush()).resolves.toBeUndefined();
  });
});

describe("who and when: anonymous id, identify, sessions", () => {
  const anonymous: TrackerOptions = { ...options, userId: undefined };
  const sentEvents = (page: ReturnType<typeof fakePage>) =>
    page.sent.flatMap((s) => s.events) as unknown as Record<string, unknown>[];

  it("tracks an unknown user under an anonymous id that the next page of the site keeps", async () => {
    const page = fakePage(accepted);
    const first = createTracker(anonymous, page.env);
    first.click("v1");
    await vi.advanceTimersByTimeAsync(1);
    const id = first.anonymousId();
    expect(id).toMatch(/^anon_[0-9a-f]{16}$/);
    expect(sentEvents(page)[0]).toMatchObject({ user_id: id, anonymous_id: id });
    const next = createTracker(anonymous, page.env);
    expect(next.anonymousId()).toBe(id);
  });

  it("links the anonymous id to the user on identify, and starts afresh on reset", async () => {
    const page = fakePage(accepted);
    const tracker = createTracker(anonymous, page.env);
    const id = tracker.anonymousId();
    tracker.identify("u_42");
    tracker.click("v1");
    await vi.advanceTimersByTimeAsync(1);
    expect(sentEvents(page)[0]).toMatchObject({ user_id: "u_42", anonymous_id: id });
    tracker.reset();
    tracker.click("v2");
    await vi.advanceTimersByTimeAsync(1);
    const after = sentEvents(page)[1] as Record<string, unknown>;
    expect(after.user_id).toBe(tracker.anonymousId());
    expect(after.anonymous_id).not.toBe(id);
    expect(after.session_id).not.toBe(sentEvents(page)[0]?.session_id);
  });

  it("keeps one session while events come within the timeout, and starts another after it", async () => {
    const page = fakePage(accepted);
    const tracker = createTracker({ ...options, sessionTimeoutMs: 60_000 }, page.env);
    tracker.click("a");
    await vi.advanceTimersByTimeAsync(59_000);
    tracker.click("b"); // 59 s later: the same visit
    await vi.advanceTimersByTimeAsync(61_000);
    tracker.click("c"); // 61 s of quiet: a new visit
    await vi.advanceTimersByTimeAsync(1);
    const [a, b, c] = sentEvents(page).map((e) => e.session_id);
    expect(a).toMatch(/^ses_[0-9a-f]{16}$/);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(c).toMatch(/^ses_[0-9a-f]{16}$/);
  });

  it("works without storage, and reports what the page knows of the device", async () => {
    const page = fakePage(accepted);
    const { storage: _none, ...env } = page.env;
    const tracker = createTracker(anonymous, { ...env, device: { device_type: "tablet", os: "iPadOS" } });
    tracker.click("v1");
    await vi.advanceTimersByTimeAsync(1);
    expect(sentEvents(page)[0]).toMatchObject({
      user_id: tracker.anonymousId(),
      session_id: expect.stringMatching(/^ses_/),
      context: { device_type: "tablet", os: "iPadOS" },
    });
  });
});

describe("the tracker's status reports", () => {
  it("tells the page where each event is: queued, sent, then acknowledged, retrying, refused or beaconed", async () => {
    let call = 0;
    const page = fakePage((events) => {
      call++;
      if (call === 1) return new Error("offline");
      return {
        status: 200,
        body: {
          results: events.map((_, index) =>
            index === 0
              ? { success: true }
              : { success: false, retryable: false, error_code: "invalid_event" },
          ),
        },
      };
    });
    const log: string[] = [];
    const tracker = createTracker(
      {
        ...options,
        onStatus: (event, status, detail) =>
          log.push(`${event.item_id} ${status}${detail ? ` ${detail}` : ""}`),
      },
      page.env,
    );
    tracker.click("a");
    tracker.click("b");
    await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(1000);
    tracker.impression("c");
    page.leave();
    expect(log).toEqual([
      "a queued",
      "b queued",
      "a sent",
      "b sent",
      "a retrying",
      "b retrying",
      "a sent",
      "b sent",
      "a acknowledged",
      "b refused invalid_event",
      "c queued",
      "c beaconed",
    ]);
  });
});
