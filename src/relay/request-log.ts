import type { Logger } from "pino";
import type { RelayMetrics } from "./metrics.ts";

/** One answered request, as the relay logs and measures it. */
export interface AnsweredRequest {
  /** The route's pattern (`/api/v1/tracking-configs/:tenant_id/:scenario_id`) or the gRPC method. */
  route: string;
  method: string;
  /** The HTTP status, or the gRPC status code's name. */
  status: string;
  seconds: number;
  requestId?: string;
  tenant?: string;
}

/**
 * Records every request in the duration histogram, and logs it at info: all failures (status ≥ 500 or a
 * gRPC error other than the client's), and other requests up to `perSecond` a second, so a flood does not
 * turn into a flood of log lines; how many were left out is logged once a second. Never a key: routes
 * are patterns, and nothing from the query or headers is logged.
 */
export const requestRecorder = (metrics: RelayMetrics, log: Logger, perSecond: number) => {
  let second = 0;
  let logged = 0;
  let skipped = 0;
  return (request: AnsweredRequest) => {
    metrics.requestDuration.observe(
      { route: request.route, method: request.method, status: request.status },
      request.seconds,
    );
    const now = Math.floor(Date.now() / 1000);
    if (now !== second) {
      if (skipped > 0) log.info({ skipped, perSecond }, "requests not logged in the last second");
      [second, logged, skipped] = [now, 0, 0];
    }
    const failed = /^5\d\d$|^(internal|unavailable|unknown|data_loss)$/.test(request.status);
    if (!failed && logged >= perSecond) {
      skipped++;
      return;
    }
    logged++;
    const { seconds, ...fields } = request;
    log.info({ ...fields, duration_ms: Math.round(seconds * 10_000) / 10 }, "request");
  };
};
export type RequestRecorder = ReturnType<typeof requestRecorder>;
