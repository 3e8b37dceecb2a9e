// The browser APIs the tracker uses, behind one interface so tests inject a fake page: requests and
// beacons, storage, randomness, and the page lifecycle hook (pagehide, or the page hidden) on which the
// tracker hands what waits to sendBeacon.

import type { BehaviorContext } from "../../core/index.ts";

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
