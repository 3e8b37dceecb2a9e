// The browser tracker. Bundled on its own for pages (an ES module for bundlers and one script-tag file,
// see docs/sdk.md), so it imports only types and the error table (src/core/errors.ts, which imports
// nothing): the edge validates; the page gets a few kilobytes, not the validation engine.

import { retryableAnswer } from "../core/errors.ts";
import type { ActionType, BehaviorContext, Problem, ScenarioData } from "../core/index.ts";

/** What a page tracks; the tracker adds tenant, user, ids, time and the default scenario. */
export interface PageEvent {
  item_id: string;
  action_type: ActionType;
  scenario_id?: string;
  position?: number;
  scenario_data?: ScenarioData;
  extra_data?: Record<string, unknown>;
  experiment_id?: string;
  experiment_group?: string;
}

export interface TrackerOptions {
  /** The edge, e.g. https://events.example.com */
  endpoint: string;
  /** The tenant's publishable key; sent as `?key=` so no preflight is needed. */
  key: string;
  tenantId: string;
  scenarioId: string;
  /**
   * The signed-in user, when known. Until then events carry the device's anonymous id as `user_id`;
   * `identify` links the two.
   */
  userId?: string;
  /** A visit ends after this long without an event (default 30 minutes); the next event starts a new one. */
  sessionTimeoutMs?: number;
  /** Added to every event; the edge fills device type, OS and location from the request when absent. */
  context?: Partial<BehaviorContext>;
  /** Events are sent every `flushMs` (default 1000) or once `batchSize` (default 10) are waiting. */
  flushMs?: number;
  batchSize?: number;
  /**
   * Told about events dropped: refused by the edge for good (a 4xx other than 408 and 429, or a
   * per-event refusal; they are not retried), with the problem details it sent (`code`, `detail`,
   * `errors`), or the oldest dropped for room (`queue full`).
   */
  onError?: (reason: string, events: unknown[], problem?: Partial<Problem>) => void;
  /**
   * Bounds of what waits to be sent (kept in localStorage, 5 MB per site and shared with the page):
   * beyond `maxStoredEvents` (default 1000) events or `maxStoredBytes` (default 1,000,000) bytes of
   * JSON, the oldest are dropped, counted and reported.
   */
  maxStoredEvents?: number;
  maxStoredBytes?: number;
  /**
   * Told where each event is: `queued`, `sent`, `acknowledged` (the edge has it), `retrying` (it will be
   * sent again), `refused` (with the reason), or `beaconed` (handed to the browser as the page left).
   */
  onStatus?: (event: Readonly<Record<string, unknown>>, status: EventStatus, detail?: string) => void;
}

export type EventStatus = "queued" | "sent" | "acknowledged" | "retrying" | "refused" | "beaconed";

/** The browser APIs the tracker uses, injectable for tests; `browserEnvironment` wires the real ones. */
export interface TrackerEnvironment {
  fetch(
    url: string,
    init: { method: string; body: string; keepalive: boolean },
  ): Promise<{
    ok: boolean;
    status: number;
    json(): Promise<unknown>;
  }>;
  sendBeacon(url: string, body: string): boolean;
  storage?: {
    getItem(k: string): string | null;
    setItem(k: string, v: string): void;
    removeItem(k: string): void;
    key(i: number): string | null;
    readonly length: number;
  };
  /** Calls `listener` when the page may be going away (pagehide, or hidden). */
  onLeave(listener: () => void): void;
  randomBytes(bytes: Uint8Array): void;
  /** What the page knows of the device that its request headers do not tell the edge. */
  device?: Partial<BehaviorContext>;
}

interface Queued {
  event_id: string;
  timestamp: number;
  [field: string]: unknown;
}

/** Beacons and keepalive fetches share a 64 KiB budget; stay under it with room for the URL. */
const MAX_BODY_BYTES = 60_000;

export const browserEnvironment = (): TrackerEnvironment => {
  const g = globalThis as unknown as {
    fetch: TrackerEnvironment["fetch"];
    navigator: { sendBeacon?(url: string, body: string): boolean };
    localStorage?: TrackerEnvironment["storage"];
    addEventListener(type: string, listener: () => void): void;
    document: { visibilityState: string };
    crypto: { getRandomValues(bytes: Uint8Array): Uint8Array };
  };
  const nav = g.navigator as { platform?: string; maxTouchPoints?: number };
  let storage: TrackerEnvironment["storage"];
  try {
    storage = g.localStorage;
  } catch (error) {
    // Browsers throw SecurityError where storage is disabled: the tracker then keeps events in memory only.
    if (!(error instanceof Error && error.name === "SecurityError")) throw error;
  }
  return {
    fetch: (url, init) => g.fetch(url, init),
    sendBeacon: (url, body) => g.navigator.sendBeacon?.(url, body) ?? false,
    storage,
    onLeave: (listener) => {
      g.addEventListener("pagehide", listener);
      g.addEventListener("visibilitychange", () => g.document.visibilityState === "hidden" && listener());
    },
    randomBytes: (bytes) => g.crypto.getRandomValues(bytes),
    // iPadOS in desktop mode sends a Mac's user agent; only a touch screen gives it away.
    device:
      nav.platform === "MacIntel" && (nav.maxTouchPoints ?? 0) > 1
        ? { device_type: "tablet", os: "iPadOS" }
        : undefined,
  };
};

const utf8Bytes = (text: string) => new TextEncoder().encode(text).length;

/** Splits events into `{events}` bodies of at most 100 events and {@link MAX_BODY_BYTES}. */
const bodies = (events: Queued[]): [Queued[], string][] => {
  const out: [Queued[], string][] = [];
  let chunk: Queued[] = [];
  let parts: string[] = [];
  let bytes = 12; // {"events":[]}
  const close = () => chunk.length > 0 && out.push([chunk, `{"events":[${parts.join(",")}]}`]);
  for (const event of events) {
    const json = JSON.stringify(event);
    const size = utf8Bytes(json) + 1;
    if (chunk.length > 0 && (chunk.length === 100 || bytes + size > MAX_BODY_BYTES)) {
      close();
      [chunk, parts, bytes] = [[], [], 12];
    }
    chunk.push(event);
    parts.push(json);
    bytes += size;
  }
  close();
  return out;
};

/**
 * Queues events, sends them in batches, and keeps what is not acknowledged in localStorage until it
 * is. Never throws into the page: every entry point catches.
 */
export const createTracker = (options: TrackerOptions, env: TrackerEnvironment = browserEnvironment()) => {
  const flushMs = options.flushMs ?? 1000;
  const batchSize = options.batchSize ?? 10;
  const url = `${options.endpoint.replace(/\/$/, "")}/api/v1/behaviors/collect?key=${encodeURIComponent(options.key)}`;
  const prefix = `behavior-ingest:${options.tenantId}:`;
  const hex = new Uint8Array(8);
  const newId = (kind = "evt") => {
    env.randomBytes(hex);
    return `${kind}_${Array.from(hex, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  };
  const storageKey = prefix + newId();
  // Outside `prefix`, which holds unsent events that other pages adopt.
  const anonymousKey = `behavior-ingest-anonymous:${options.tenantId}`;
  const sessionKey = `behavior-ingest-session:${options.tenantId}`;
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 30 * 60_000;
  const read = (key: string) => {
    try {
      return env.storage?.getItem(key) ?? null;
    } catch {
      return null; // storage disabled: ids last as long as the page
    }
  };
  const write = (key: string, value: string) => {
    try {
      env.storage?.setItem(key, value);
    } catch {
      // Storage full or disabled: the id stays in memory, for this page only.
    }
  };
  const maxStoredEvents = options.maxStoredEvents ?? 1000;
  const maxStoredBytes = options.maxStoredBytes ?? 1_000_000;
  /** Events dropped: refused by the edge for good, and the oldest dropped for room. */
  const dropped = { refused: 0, overflow: 0 };
  const report = (reason: string, events: Queued[], problem?: Partial<Problem>) => {
    status(events, "refused", reason);
    try {
      options.onError?.(reason, events, problem);
    } catch {
      // The page's own handler threw: a tracker never throws into the page it runs in.
    }
  };
  const status = (events: Queued[], now: EventStatus, detail?: string) => {
    if (options.onStatus === undefined) return;
    for (const event of events) {
      try {
        options.onStatus(event, now, detail);
      } catch {
        // As above: the page's handler, not ours.
      }
    }
  };

  let queue: Queued[] = [];
  let inFlight: Queued[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let backoffMs = 0;
  let userId = options.userId;
  let anonymousId = "";
  const context = env.device === undefined ? options.context : { ...env.device, ...(options.context ?? {}) };

  /** The device's anonymous id: first-party storage, made once per tenant. */
  const loadAnonymousId = () => {
    anonymousId = read(anonymousKey) ?? newId("anon");
    write(anonymousKey, anonymousId);
  };

  /** The current visit: kept while events come within the timeout, shared by the tenant's tabs. */
  const sessionId = (now: number) => {
    let session: { id: string; seen: number } | undefined;
    try {
      session = JSON.parse(read(sessionKey) ?? "null") ?? undefined;
    } catch {
      // An unreadable stored session (another script wrote the key): a new one starts below.
    }
    if (session === undefined || typeof session.id !== "string" || now - session.seen > sessionTimeoutMs) {
      session = { id: newId("ses"), seen: now };
    }
    session.seen = now;
    write(sessionKey, JSON.stringify(session));
    return session.id;
  };

  /** Each event's size as stored, measured once. */
  const sizes = new WeakMap<Queued, number>();
  const sizeOf = (event: Queued) => {
    let size = sizes.get(event);
    if (size === undefined) {
      size = utf8Bytes(JSON.stringify(event)) + 1;
      sizes.set(event, size);
    }
    return size;
  };

  /**
   * Keeps what waits (in flight and queued) within the bounds by dropping the oldest queued events,
   * counted and reported: a page that cannot send (offline, refused) must not fill the site's storage.
   */
  const bound = () => {
    let count = inFlight.length + queue.length;
    let bytes = 0;
    for (const event of inFlight) bytes += sizeOf(event);
    for (const event of queue) bytes += sizeOf(event);
    let drop = 0;
    while (drop < queue.length && (count > maxStoredEvents || bytes > maxStoredBytes)) {
      bytes -= sizeOf(queue[drop] as Queued);
      count--;
      drop++;
    }
    if (drop === 0) return;
    dropped.overflow += drop;
    report("queue full", queue.splice(0, drop));
  };

  /** Unacknowledged events (queued and in flight) survive a reload under this tab's key. */
  const save = () => {
    try {
      bound();
      const pending = [...inFlight, ...queue];
      if (pending.length === 0) env.storage?.removeItem(storageKey);
      else env.storage?.setItem(storageKey, JSON.stringify(pending));
    } catch {
      // Storage full or disabled (quota, private mode): the events stay queued in memory only.
    }
  };

  /** Takes over what earlier pages of this tenant left unsent (their event ids make resends recognisable). */
  const adopt = () => {
    const storage = env.storage;
    if (storage === undefined) return;
    for (let i = storage.length - 1; i >= 0; i--) {
      const key = storage.key(i);
      if (key?.startsWith(prefix) && key !== storageKey) {
        try {
          queue.push(...(JSON.parse(storage.getItem(key) ?? "[]") as Queued[]));
        } catch {
          report("unreadable stored events", []); // not JSON: not ours to resend
        }
        storage.removeItem(key);
      }
    }
  };

  /** A due send is not postponed; a sooner one (a click, a full batch) replaces it. */
  const schedule = (delay: number) => {
    if (timer !== undefined && delay > 0) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void send();
    }, delay);
  };

  const send = async () => {
    if (inFlight.length > 0 || queue.length === 0) return;
    const [[events, body] = [[], ""]] = bodies(queue.slice(0, 100));
    inFlight = events;
    queue = queue.slice(events.length);
    let retry: Queued[] = [];
    status(events, "sent");
    try {
      const response = await env.fetch(url, { method: "POST", body, keepalive: true });
      if (response.ok) {
        const { results = [] } = (await response.json()) as {
          results?: {
            success: boolean;
            retryable?: boolean;
            error_code?: Problem["code"];
            message?: string;
            errors?: Problem["errors"];
          }[];
        };
        results.forEach((result, i) => {
          const event = events[i] as Queued;
          if (result.success) status([event], "acknowledged");
          else if (result.retryable) retry.push(event);
          else {
            dropped.refused++;
            const { error_code: code, message: detail, errors } = result;
            report(code ?? "refused", [event], { code, detail, errors });
          }
        });
      } else {
        const body: unknown = await response.json().catch(() => undefined);
        if (retryableAnswer(response.status, body)) retry = events;
        else {
          // Final: the same events would be refused again (a wrong key, an origin the key does not
          // allow, invalid events), so they are dropped, counted and reported with the edge's reasons.
          dropped.refused += events.length;
          const problem: Partial<Problem> =
            typeof body === "object" && body !== null && !Array.isArray(body) ? body : {};
          report(problem.code ?? `refused with ${response.status}`, events, {
            status: response.status,
            ...problem,
          });
        }
      }
    } catch {
      retry = events; // offline, or the edge did not answer
    }
    inFlight = [];
    status(retry, "retrying");
    queue = [...retry, ...queue];
    save();
    backoffMs = retry.length > 0 ? Math.min(60_000, Math.max(1000, backoffMs * 2)) : 0;
    if (queue.length > 0) schedule(backoffMs || (queue.length >= batchSize ? 0 : flushMs));
  };

  /** The page is going away: hand everything queued to the browser as beacons, which outlive the page. */
  const leave = () => {
    try {
      clearTimeout(timer);
      timer = undefined;
      const kept: Queued[] = [];
      for (const [events, body] of bodies(queue)) {
        if (env.sendBeacon(url, body)) status(events, "beaconed");
        else kept.push(...events);
      }
      queue = kept;
      save();
    } catch {
      // sendBeacon refused the body outright: what is queued stays stored for the next page.
      save();
    }
  };

  const track = (event: PageEvent, now = false) => {
    try {
      const timestamp = Date.now();
      queue.push({
        tenant_id: options.tenantId,
        scenario_id: options.scenarioId,
        user_id: userId ?? anonymousId,
        anonymous_id: anonymousId,
        session_id: sessionId(timestamp),
        ...(context === undefined ? {} : { context }),
        ...event,
        event_id: newId(),
        timestamp,
      });
      status(queue.slice(-1), "queued");
      save();
      schedule(now || queue.length >= batchSize ? 0 : flushMs);
    } catch {}
  };

  try {
    loadAnonymousId();
    adopt();
    save();
    env.onLeave(leave);
    if (queue.length > 0) schedule(0);
  } catch {}

  return {
    track,
    /** The item entered the viewport (sent with the next batch). */
    impression: (itemId: string, fields?: Partial<PageEvent>) =>
      track({ ...fields, item_id: itemId, action_type: "impression" }),
    /** Clicks are sent at once. */
    click: (itemId: string, fields?: Partial<PageEvent>) =>
      track({ ...fields, item_id: itemId, action_type: "click" }, true),
    /** The user signed in: later events carry `id` as `user_id` and still the anonymous id. */
    identify: (id: string) => {
      userId = id;
    },
    /** The user signed out: a new anonymous id, so later events are not linked to the last user. */
    reset: () => {
      userId = undefined;
      try {
        env.storage?.removeItem(anonymousKey);
        env.storage?.removeItem(sessionKey);
      } catch {
        // Storage disabled: there was nothing stored to forget; the new ids below replace the old.
      }
      loadAnonymousId();
    },
    /** Events dropped so far: refused by the edge for good, and the oldest dropped for room. */
    dropped: () => ({ ...dropped }),
    /** The anonymous id of this device, e.g. to hand to a server that tracks for the same user. */
    anonymousId: () => anonymousId,
    /** Sends what is queued now. */
    flush: () => {
      clearTimeout(timer);
      timer = undefined;
      return send().catch(() => undefined);
    },
  };
};

export type Tracker = ReturnType<typeof createTracker>;
