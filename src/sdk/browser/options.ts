// What a page gives the browser tracker and what it is told back: the options of `createTracker`, the
// events it tracks, the statuses it reports, and the event as queued once the tracker filled it in.

import type { ActionType, BehaviorContext, Problem, ScenarioData } from "../../core/index.ts";

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

/** An event as queued, stored and sent: the page's fields with the tracker's ids and time. */
export interface Queued {
  event_id: string;
  timestamp: number;
  [field: string]: unknown;
}
