// The browser tracker. Bundled on its own for pages (an ES module for bundlers and one script-tag file,
// see docs/sdk.md), so it and its parts in ./browser/ import only types and the error table
// (src/core/errors.ts, which imports nothing): the edge validates; the page gets a few kilobytes, not the
// validation engine. This file is the public API; the parts are the page's options (options.ts), its
// browser APIs and leave hook (environment.ts), what the page is told (reports.ts), its ids
// (identity.ts), the stored, bounded queue (stored-queue.ts) and the sending (sender.ts).

import { browserEnvironment, type TrackerEnvironment } from "./browser/environment.ts";
import { pageIdentity } from "./browser/identity.ts";
import type { PageEvent, Queued, TrackerOptions } from "./browser/options.ts";
import { pageReports } from "./browser/reports.ts";
import { edgeSender } from "./browser/sender.ts";
import { storedQueue } from "./browser/stored-queue.ts";

export { browserEnvironment, type TrackerEnvironment } from "./browser/environment.ts";
export type { EventStatus, PageEvent, TrackerOptions } from "./browser/options.ts";

/**
 * Queues events, sends them in batches, and keeps what is not acknowledged in localStorage until it
 * is. Never throws into the page: every entry point catches.
 */
export const createTracker = (options: TrackerOptions, env: TrackerEnvironment = browserEnvironment()) => {
  const reports = pageReports(options);
  const identity = pageIdentity(env, options);
  const queue = storedQueue(env.storage, options, identity.newId(), reports);
  const sender = edgeSender(env, options, queue, reports);
  const context = env.device === undefined ? options.context : { ...env.device, ...(options.context ?? {}) };

  const track = (event: PageEvent, now = false) => {
    try {
      const timestamp = Date.now();
      const queued: Queued = {
        tenant_id: options.tenantId,
        scenario_id: options.scenarioId,
        ...identity.who(timestamp),
        ...(context === undefined ? {} : { context }),
        ...event,
        event_id: identity.newId(),
        timestamp,
      };
      queue.push(queued);
      reports.status([queued], "queued");
      queue.save();
      sender.queued(now);
    } catch {}
  };

  try {
    identity.loadAnonymousId();
    queue.adopt();
    queue.save();
    env.onLeave(sender.leave);
    if (queue.waiting().length > 0) sender.schedule(0);
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
    identify: identity.identify,
    /** The user signed out: a new anonymous id, so later events are not linked to the last user. */
    reset: identity.reset,
    /** Events dropped so far: refused by the edge for good, and the oldest dropped for room. */
    dropped: () => ({ ...reports.dropped }),
    /** The anonymous id of this device, e.g. to hand to a server that tracks for the same user. */
    anonymousId: identity.anonymousId,
    /** Sends what is queued now. */
    flush: sender.flush,
  };
};

export type Tracker = ReturnType<typeof createTracker>;
