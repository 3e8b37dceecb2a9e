import { retryableAnswer } from "../../core/errors.ts";
import type { Problem } from "../../core/index.ts";
import type { TrackerEnvironment } from "./environment.ts";
import type { Queued, TrackerOptions } from "./options.ts";
import type { PageReports } from "./reports.ts";
import { type StoredQueue, utf8Bytes } from "./stored-queue.ts";

/** Beacons and keepalive fetches share a 64 KiB budget; stay under it with room for the URL. */
const MAX_BODY_BYTES = 60_000;

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
 * Sends what the queue holds to the edge: a keepalive fetch at a time while the page lives, retried with
 * backoff (1 s doubling to 60 s) while the edge cannot take it; beacons as the page goes away.
 */
export const edgeSender = (
  env: TrackerEnvironment,
  options: Pick<TrackerOptions, "endpoint" | "key" | "flushMs" | "batchSize">,
  queue: StoredQueue,
  reports: PageReports,
) => {
  const flushMs = options.flushMs ?? 1000;
  const batchSize = options.batchSize ?? 10;
  const url = `${options.endpoint.replace(/\/$/, "")}/api/v1/behaviors/collect?key=${encodeURIComponent(options.key)}`;
  const { status, report, dropped } = reports;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let backoffMs = 0;

  /** A due send is not postponed; a sooner one (a click, a full batch) replaces it. */
  const schedule = (delay: number) => {
    if (timer !== undefined && delay > 0) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void send();
    }, delay);
  };

  /** At once when asked or when a batch is waiting, else after `flushMs`. */
  const due = (now: boolean) => (now || queue.waiting().length >= batchSize ? 0 : flushMs);

  const send = async () => {
    if (queue.sending() || queue.waiting().length === 0) return;
    const [[events, body] = [[], ""]] = bodies(queue.waiting().slice(0, 100));
    queue.take(events.length);
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
    queue.answered();
    status(retry, "retrying");
    queue.retry(retry);
    backoffMs = retry.length > 0 ? Math.min(60_000, Math.max(1000, backoffMs * 2)) : 0;
    if (queue.waiting().length > 0) schedule(backoffMs || due(false));
  };

  return {
    schedule,
    /** An event was queued: send it with the next batch, or at once when `now` (a click). */
    queued: (now: boolean) => schedule(due(now)),
    /** Sends what is queued now. */
    flush: () => {
      clearTimeout(timer);
      timer = undefined;
      return send().catch(() => undefined);
    },
    /** The page is going away: hand everything queued to the browser as beacons, which outlive the page. */
    leave: () => {
      try {
        clearTimeout(timer);
        timer = undefined;
        const kept: Queued[] = [];
        for (const [events, body] of bodies(queue.waiting())) {
          if (env.sendBeacon(url, body)) status(events, "beaconed");
          else kept.push(...events);
        }
        queue.keep(kept);
      } catch {
        // sendBeacon refused the body outright: what is queued stays stored for the next page.
        queue.save();
      }
    },
  };
};
