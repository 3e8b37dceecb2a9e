import type { Problem } from "../../core/index.ts";
import type { EventStatus, Queued, TrackerOptions } from "./options.ts";

/**
 * What the page is told through its own handlers (`onStatus`, `onError`) and `dropped()`: where each
 * event is, and the events dropped with why. A handler that throws is caught here, once for every caller.
 */
export const pageReports = (options: Pick<TrackerOptions, "onError" | "onStatus">) => {
  /** Events dropped: refused by the edge for good, and the oldest dropped for room. */
  const dropped = { refused: 0, overflow: 0 };
  const status = (events: Queued[], now: EventStatus, detail?: string) => {
    if (options.onStatus === undefined) return;
    for (const event of events) {
      try {
        options.onStatus(event, now, detail);
      } catch {
        // The page's own handler threw: a tracker never throws into the page it runs in.
      }
    }
  };
  const report = (reason: string, events: Queued[], problem?: Partial<Problem>) => {
    status(events, "refused", reason);
    try {
      options.onError?.(reason, events, problem);
    } catch {
      // As above: the page's handler, not ours.
    }
  };
  return { dropped, status, report };
};

export type PageReports = ReturnType<typeof pageReports>;
