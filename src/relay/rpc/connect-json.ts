import { AsyncLocalStorage } from "node:async_hooks";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

/**
 * The JSON a Connect call's request was sent as, for its handler. Connect decodes JSON requests with
 * unknown fields ignored, so a misspelt field would vanish in silence; the handlers read what was sent
 * and keep those fields, so that validation warns about them as it does for an HTTP body.
 */
const calls = new AsyncLocalStorage<{ sent?: unknown }>();

/**
 * Fatal: bytes that are not UTF-8 throw, and Connect refuses the call (`invalid_argument`) as REST
 * refuses such a body; its default decoder turns them into U+FFFD, and the event was stored so.
 */
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Connect's JSON text decoder (its one hook into JSON decoding), which also keeps the parsed request
 * for the call under way. JSON that does not parse is left to Connect, which refuses it.
 */
const keepingDecoder = {
  decode(bytes?: Uint8Array): string {
    const text = utf8.decode(bytes);
    const call = calls.getStore();
    if (call !== undefined) {
      try {
        call.sent = JSON.parse(text);
      } catch {
        call.sent = undefined; // Connect's own parse of the same text answers invalid_argument
      }
    }
    return text;
  },
};

/** The request JSON of the Connect call under way, if it was sent as JSON. */
export const sentJson = (): unknown => calls.getStore()?.sent;

/**
 * Connect's Node handler (gRPC, gRPC-Web and the Connect protocol on :8080), one for each format of
 * call: JSON calls with each call's JSON kept for its handler ({@link sentJson}); binary calls on
 * `binaryRoutes`, which read each event of BehaviorService on its own (raw-requests.ts; a JSON body has
 * no bytes per event), so that one event that does not decode is refused alone.
 */
export const connectHandler = (options: {
  jsonRoutes: (router: ConnectRouter) => void;
  binaryRoutes: (router: ConnectRouter) => void;
  readMaxBytes: number;
}): ((req: IncomingMessage, res: ServerResponse) => void) => {
  const { jsonRoutes, binaryRoutes, readMaxBytes } = options;
  // Not a literal, so the decoder (which the options' type does not name) passes; Connect hands the
  // JSON options to its JSON serialization, which takes a textDecoder.
  const jsonOptions = { ignoreUnknownFields: true, textDecoder: keepingDecoder };
  const json = connectNodeAdapter({ routes: jsonRoutes, readMaxBytes, jsonOptions });
  const binary = connectNodeAdapter({ routes: binaryRoutes, readMaxBytes });
  // application/json, application/grpc+json…; anything else is protobuf (or refused by Connect).
  return (req, res) =>
    /json/i.test(req.headers["content-type"] ?? "") ? calls.run({}, () => json(req, res)) : binary(req, res);
};
