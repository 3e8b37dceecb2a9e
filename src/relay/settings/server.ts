import { availableParallelism } from "node:os";
import * as z from "zod";
import { intSetting as int } from "../../core/index.ts";

/**
 * The relay's HTTP/1.1 keep-alive timeout unless set: above the 60 s idle timeout of common load
 * balancers and proxies (AWS's Application Load Balancer, nginx's upstream keep-alive), where Node's own
 * default is 5 s.
 */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** The headers timeout unless set (and RELAY_REQUEST_TIMEOUT_MS is not shorter). */
const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;

/** Where the relay listens, its processes, and how long a request and an idle connection may take. */
export const ServerSettings = z.object({
  RELAY_HOST: z.string().default("127.0.0.1"),
  /**
   * Relay processes on this host sharing the ports (node:cluster), each with its own spool under
   * SPOOL_DIR (`worker-N`); `auto`: one per core. A worker that dies is replaced and replays its spool.
   */
  RELAY_WORKERS: z
    .union([z.literal("auto").transform(() => availableParallelism()), z.coerce.number().int().min(1)])
    .default(1),
  /** Which worker of a fleet this process is (1…RELAY_WORKERS): set by the fleet's primary, not by hand. */
  RELAY_WORKER_ID: int(1, 1),
  RELAY_HTTP_PORT: int(8080),
  RELAY_GRPC_PORT: int(50051),
  /**
   * A request (headers and body) must arrive within this time of its first byte; a slower one gets 408
   * and its connection is closed (a client that trickles its request, slowloris, is not waited for).
   */
  RELAY_REQUEST_TIMEOUT_MS: int(30_000, 1000),
  /**
   * A request's headers must arrive within this time of its first byte, else 408: at most
   * RELAY_REQUEST_TIMEOUT_MS (Node's own rule). Unset: 10 s, or RELAY_REQUEST_TIMEOUT_MS when that is
   * shorter. Only a request under way is timed: an idle kept-alive connection is not (see below).
   */
  RELAY_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1000).optional(),
  /**
   * How long an HTTP/1.1 connection may stay idle after an answer before the relay closes it. Longer
   * than the idle timeout of the load balancer or proxy in front (60 s for most), so that the balancer,
   * not the relay, closes idle connections: a request it sends on a connection the relay is closing at
   * that moment would be lost (a 502, or "other side closed" at a direct client).
   */
  RELAY_KEEP_ALIVE_TIMEOUT_MS: int(DEFAULT_KEEP_ALIVE_TIMEOUT_MS, 1000),
});
type ServerSettings = z.infer<typeof ServerSettings>;

/** The headers are part of the request: their timeout may not be longer. */
export const checkServerSettings = (s: ServerSettings, ctx: z.RefinementCtx): void => {
  if (s.RELAY_HEADERS_TIMEOUT_MS !== undefined && s.RELAY_HEADERS_TIMEOUT_MS > s.RELAY_REQUEST_TIMEOUT_MS) {
    ctx.addIssue({
      code: "custom",
      path: ["RELAY_HEADERS_TIMEOUT_MS"],
      message: `must be at most RELAY_REQUEST_TIMEOUT_MS (${s.RELAY_REQUEST_TIMEOUT_MS}): the headers are part of the request`,
    });
  }
};

/** The settings with the headers timeout always set: its default depends on the request timeout. */
export const withHeadersTimeout = <S extends ServerSettings>(
  s: S,
): S & { RELAY_HEADERS_TIMEOUT_MS: number } => ({
  ...s,
  RELAY_HEADERS_TIMEOUT_MS:
    s.RELAY_HEADERS_TIMEOUT_MS ?? Math.min(DEFAULT_HEADERS_TIMEOUT_MS, s.RELAY_REQUEST_TIMEOUT_MS),
});

/** What the relay logs. */
export const LogSettings = z.object({
  /** Requests logged at info per second; failures always are, the rest are counted (src/relay/request-log.ts). */
  REQUEST_LOG_PER_SECOND: int(20),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});
