import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import type { Logger } from "pino";
import { MAX_REQUEST_BYTES, PROBLEM_CONTENT_TYPE, problem } from "../core/index.ts";
import { BehaviorService } from "../gen/recommender/v1/behavior_pb.js";
import { EdgeForwardingService } from "../gen/recommender/v1/edge_pb.js";
import type { RelaySettings } from "./config.ts";
import type { RequestRecorder } from "./request-log.ts";
import { connectHandler } from "./rpc/connect-json.ts";
import { createGrpcServer, grpcJsService } from "./rpc/grpc-server.ts";
import { rawBehaviorMethods } from "./rpc/raw-requests.ts";
import { type behaviorHandlers, connectRoutes } from "./rpc/service.ts";

const listen = (server: Server, port: number, host: string) =>
  new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });

/** Stops a listener and ends its open connections (HTTP/1.1 keep-alive sockets). */
const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

/** The start of every RPC path the relay serves (`/recommender.v1.BehaviorService/TrackEvent`…). */
const RPC_PATH_PREFIX = "/recommender.v1.";

/** Calls one gRPC connection may have under way at once. */
const GRPC_MAX_CONCURRENT_STREAMS = 256;

/** How much of an over-limit body the relay reads and discards so that its client can read the 413. */
const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
const DRAIN_MAX_MS = 10_000;

/**
 * Answers a request whose declared body is over the limit with the 413 problem+json at once, then
 * reads and discards the body (up to a bound in bytes and time); only past the bound is the connection
 * cut. Clients that write the whole body before reading (Python's http.client and requests) would
 * otherwise get a reset instead of the answer (`Connection: close` too makes Node drop the unread body).
 */
const refuseOversized = (req: IncomingMessage, res: ServerResponse) => {
  const body = JSON.stringify(
    problem("payload_too_large", `the body may be at most ${MAX_REQUEST_BYTES} bytes`),
  );
  res.writeHead(413, {
    "content-type": PROBLEM_CONTENT_TYPE,
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
  let drained = 0;
  const stop = () => {
    clearTimeout(timer);
    req.socket.destroySoon();
  };
  const timer = setTimeout(stop, DRAIN_MAX_MS);
  req.on("data", (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_MAX_BYTES) stop();
  });
  req.once("end", () => clearTimeout(timer));
  req.resume();
};

/** The relay's two listeners, bound: their ports, and how to stop both. */
export interface Listeners {
  httpPort: number;
  grpcPort: number;
  /** Stops accepting and ends every call and connection under way. */
  close(): Promise<void>;
}

/** Starts both listeners, with the same RPC handlers on each and the REST app (`rest`, its fetch) on :8080. */
export const startListeners = async (
  settings: RelaySettings,
  parts: {
    rest: Parameters<typeof getRequestListener>[0];
    handlers: ReturnType<typeof behaviorHandlers>;
    record: RequestRecorder;
    log: Logger;
  },
): Promise<Listeners> => {
  const { handlers, record, log } = parts;
  // :8080 serves Connect and gRPC-Web for the service and hands every other path to the REST app.
  const rest = getRequestListener(parts.rest);
  const rpc = connectHandler({
    jsonRoutes: connectRoutes(handlers, "json"),
    binaryRoutes: connectRoutes(handlers, "binary"),
    // The same body limit as REST: a larger message is refused before it is buffered.
    readMaxBytes: MAX_REQUEST_BYTES,
  });
  const httpServer = createHttpServer(
    {
      // A client that trickles its request (slowloris) is answered 408 and cut off, not waited for;
      // Node checks requests under way for both every connectionsCheckingInterval.
      requestTimeout: settings.RELAY_REQUEST_TIMEOUT_MS,
      headersTimeout: settings.RELAY_HEADERS_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(30_000, settings.RELAY_HEADERS_TIMEOUT_MS / 2),
      // Idle connections are left for the load balancer in front to close (docs/operations.md).
      keepAliveTimeout: settings.RELAY_KEEP_ALIVE_TIMEOUT_MS,
    },
    (req, res) => {
      // RPC paths are /<package>.<Service>/<Method>; only those go through Connect's adapter.
      if (req.url?.startsWith(RPC_PATH_PREFIX)) {
        // Connect, gRPC-Web and the edge's forwarding: measured and logged like REST and gRPC calls.
        const started = performance.now();
        res.once("finish", () =>
          record({
            route: (req.url ?? "").split("?")[0]?.slice(RPC_PATH_PREFIX.length) ?? "",
            method: "connect",
            status: String(res.statusCode),
            seconds: (performance.now() - started) / 1000,
          }),
        );
        rpc(req, res);
      } else if (Number(req.headers["content-length"]) > MAX_REQUEST_BYTES) refuseOversized(req, res);
      else void rest(req, res);
    },
  );
  // :50051 serves gRPC over cleartext HTTP/2 for internal clients in any language.
  const grpcServer = createGrpcServer(
    [
      grpcJsService(BehaviorService, handlers.behavior, log, record, rawBehaviorMethods),
      grpcJsService(EdgeForwardingService, handlers.edgeForwarding, log, record),
    ],
    { maxConcurrentStreams: GRPC_MAX_CONCURRENT_STREAMS, maxMessageBytes: MAX_REQUEST_BYTES },
  );
  const httpPort = await listen(httpServer, settings.RELAY_HTTP_PORT, settings.RELAY_HOST);
  const grpcPort = await grpcServer.listen(settings.RELAY_HOST, settings.RELAY_GRPC_PORT);
  return {
    httpPort,
    grpcPort,
    close: async () => {
      grpcServer.close();
      await closeServer(httpServer);
    },
  };
};
