import type { TrackerEnvironment } from "./environment.ts";
import type { Queued, TrackerOptions } from "./options.ts";
import type { PageReports } from "./reports.ts";

export const utf8Bytes = (text: string) => new TextEncoder().encode(text).length;

/**
 * What waits to be sent: the events queued and the request in flight, kept in localStorage under this
 * page's key until the edge acknowledged them, so a reload or the next page of the tenant sends them.
 * Bounded in events and bytes, because a page that cannot send (offline, refused) must not fill the
 * site's storage.
 */
export const storedQueue = (
  storage: TrackerEnvironment["storage"],
  options: Pick<TrackerOptions, "tenantId" | "maxStoredEvents" | "maxStoredBytes">,
  pageId: string,
  reports: PageReports,
) => {
  const prefix = `behavior-ingest:${options.tenantId}:`;
  const storageKey = prefix + pageId;
  const maxStoredEvents = options.maxStoredEvents ?? 1000;
  const maxStoredBytes = options.maxStoredBytes ?? 1_000_000;
  let waiting: Queued[] = [];
  let inFlight: Queued[] = [];

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
   * counted and reported.
   */
  const bound = () => {
    let count = inFlight.length + waiting.length;
    let bytes = 0;
    for (const event of inFlight) bytes += sizeOf(event);
    for (const event of waiting) bytes += sizeOf(event);
    let drop = 0;
    while (drop < waiting.length && (count > maxStoredEvents || bytes > maxStoredBytes)) {
      bytes -= sizeOf(waiting[drop] as Queued);
      count--;
      drop++;
    }
    if (drop === 0) return;
    reports.dropped.overflow += drop;
    reports.report("queue full", waiting.splice(0, drop));
  };

  /** Unacknowledged events (queued and in flight) survive a reload under this tab's key. */
  const save = () => {
    try {
      bound();
      const pending = [...inFlight, ...waiting];
      if (pending.length === 0) storage?.removeItem(storageKey);
      else storage?.setItem(storageKey, JSON.stringify(pending));
    } catch {
      // Storage full or disabled (quota, private mode): the events stay queued in memory only.
    }
  };

  return {
    save,
    /** Takes over what earlier pages of this tenant left unsent (their event ids make resends recognisable). */
    adopt: () => {
      if (storage === undefined) return;
      for (let i = storage.length - 1; i >= 0; i--) {
        const key = storage.key(i);
        if (key?.startsWith(prefix) && key !== storageKey) {
          try {
            waiting.push(...(JSON.parse(storage.getItem(key) ?? "[]") as Queued[]));
          } catch {
            reports.report("unreadable stored events", []); // not JSON: not ours to resend
          }
          storage.removeItem(key);
        }
      }
    },
    /** The queued events, oldest first; not those in flight. */
    waiting: () => waiting,
    /** Whether a request is in flight: one at a time, so events go in the order they were tracked. */
    sending: () => inFlight.length > 0,
    push: (event: Queued) => {
      waiting.push(event);
    },
    /** Moves the oldest `count` queued events in flight; they stay stored until answered. */
    take: (count: number) => {
      inFlight = waiting.slice(0, count);
      waiting = waiting.slice(count);
      return inFlight;
    },
    /** The request in flight was answered (or failed): its events are acknowledged, dropped or retried. */
    answered: () => {
      inFlight = [];
    },
    /** Puts events to send again before the queued ones, and stores what waits. */
    retry: (events: Queued[]) => {
      waiting = [...events, ...waiting];
      save();
    },
    /** Keeps only these of the queued events (the others were handed to beacons), and stores what waits. */
    keep: (events: Queued[]) => {
      waiting = events;
      save();
    },
  };
};

export type StoredQueue = ReturnType<typeof storedQueue>;
