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

const utf8 = new TextDecoder();

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
 * Connect's Node handler (gRPC, gRPC-Web and the Connect protocol on :8080) with each call's JSON
 * kept for its handler ({@link sentJson}).
 */
export const connectHandler = (options: {
  routes: (router: ConnectRouter) => void;
  readMaxBytes: number;
}): ((req: IncomingMessage, res: ServerResponse) => void) => {
  // Not a literal, so the decoder (which the options' type does not name) passes; Connect hands the
  // JSON options to its JSON serialization, which takes a textDecoder.
  const jsonOptions = { ignoreUnknownFields: true, textDecoder: keepingDecoder };
  const adapter = connectNodeAdapter({ ...options, jsonOptions });
  return (req, res) => calls.run({}, () => adapter(req, res));
};
