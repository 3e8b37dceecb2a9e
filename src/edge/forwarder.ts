import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import pRetry from "p-retry";
import {
  ERRORS,
  type ErrorCode,
  type Issue,
  MAX_EVENTS_PER_BATCH,
  MAX_REQUEST_BYTES,
  type Refusal,
  type SignedCall,
  signCall,
} from "../core/index.ts";
import type { EventResult } from "../gen/recommender/v1/behavior_pb.js";
import { EdgeForwardingService } from "../gen/recommender/v1/edge_pb.js";
import { webCallCrypto } from "./digest.ts";
import { type Delivery, type Forwarder, RelayUnavailableError } from "./ports.ts";

/** Room left in a relay request for the signature fields around the JSON. */
const MAX_BATCH_BYTES = MAX_REQUEST_BYTES - 4096;

const utf8 = new TextEncoder();

/**
 * Cuts JSON values into `{"<field>": [...]}` bodies the relay takes: at most 100 entries and under its
 * request limit, in order. Every entry fits on its own: an accepted event is at most 32 KiB as JSON.
 */
const bodiesOf = (field: string, values: readonly unknown[]): { bytes: Uint8Array; count: number }[] => {
  const bodies: { bytes: Uint8Array; count: number }[] = [];
  let parts: string[] = [];
  let size = 0;
  const close = () => {
    if (parts.length === 0) return;
    bodies.push({ bytes: utf8.encode(`{"${field}":[${parts.join(",")}]}`), count: parts.length });
    parts = [];
    size = 0;
  };
  for (const value of values) {
    const json = JSON.stringify(value);
    const bytes = utf8.encode(json).byteLength + 1;
    if (parts.length === MAX_EVENTS_PER_BATCH || size + bytes > MAX_BATCH_BYTES) close();
    parts.push(json);
    size += bytes;
  }
  close();
  return bodies;
};

/** Connect codes that mean "not now": the same call may succeed later. */
const RETRYABLE_CODES: ReadonlySet<Code> = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
  Code.Aborted,
  Code.Internal,
  Code.Unknown,
  Code.Canceled,
]);

/** Error codes of a connection that failed or was closed under a call (Node's, undici's). */
const CONNECTION_LOST_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);
/** The same in words: undici, Node's http, Deno's fetch (and the OS's words it passes on), workerd's fetch. */
const CONNECTION_LOST_MESSAGE =
  /other side closed|socket hang up|connection closed before message completed|connection refused|connection reset|network connection lost/i;

/**
 * Whether a call failed because the connection was refused or closed before the relay answered: most
 * often a kept-alive connection that the relay or a load balancer closed for being idle just as the
 * call went out on it (fetch fails with "fetch failed", caused by "other side closed" or ECONNRESET).
 * The relay did not answer, so this is "could not reach the relay", as when it is down: the call is
 * tried again, then the events are queued. Looks through the chain of causes (Connect wraps fetch's
 * TypeError, which wraps the socket's error).
 */
const connectionLost = (error: unknown): boolean => {
  let current = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && CONNECTION_LOST_CODES.has(code)) return true;
    if (CONNECTION_LOST_MESSAGE.test(current.message)) return true;
    current = current.cause;
  }
  return false;
};

/** A failure that says "not now": retried, then reported as the relay being out of reach. */
const unreachable = (failure: ConnectError): boolean =>
  RETRYABLE_CODES.has(failure.code) || connectionLost(failure);

/**
 * The edge's calls to the relay's EdgeForwardingService over the Connect protocol (binary protobuf
 * over fetch, which Workers and Deno both have), each signed with the secret the edge and the relay
 * share (src/core/edge-signing.ts). Events travel as JSON so that whatever the edge accepted reaches
 * the relay unchanged. A call that fails for a retryable reason is tried again a few times with backoff
 * and a new signature; the events carry their `event_id`, so a retry the relay had already taken is a
 * duplicate with the same id, not a new event.
 */
export const relayForwarder = (
  relayUrl: string,
  secrets: readonly string[],
  options: { attempts?: number; timeoutMs?: number; fetcher?: typeof fetch } = {},
): Forwarder => {
  const transport = createConnectTransport({
    baseUrl: relayUrl,
    useBinaryFormat: true,
    // Only method, headers, body and signal: Connect also sets `redirect: "error"` (and may set
    // `credentials`), which the Workers runtime rejects.
    fetch: (input, init) =>
      (options.fetcher ?? fetch)(input, {
        method: init?.method,
        headers: init?.headers,
        body: init?.body,
        signal: init?.signal,
      }),
  });
  const client = createClient(EdgeForwardingService, transport);
  const attempts = options.attempts ?? 3;
  const callOptions = { timeoutMs: options.timeoutMs ?? 3_000 };

  /** One signed call, retried while the failure is retryable; then RelayUnavailableError or the error. */
  const call = async <T>(
    purpose: SignedCall,
    body: Uint8Array,
    send: (signed: { timestampMs: bigint; nonce: string; signature: string }) => Promise<T>,
  ): Promise<T> => {
    try {
      return await pRetry(
        async () => {
          const signed = await signCall(webCallCrypto, secrets, purpose, body);
          return await send({
            timestampMs: BigInt(signed.timestamp),
            nonce: signed.nonce,
            signature: signed.signature,
          });
        },
        {
          retries: attempts - 1,
          minTimeout: 200,
          randomize: true,
          maxRetryTime: 2_000,
          // Connect reports a failed fetch as `unknown`, which is retryable anyway; a lost connection is
          // named here so that it stays "could not reach" whatever becomes of that code.
          shouldRetry: ({ error }) => unreachable(ConnectError.from(error)),
        },
      );
    } catch (error) {
      const failure = ConnectError.from(error);
      throw unreachable(failure) ? new RelayUnavailableError(failure.message, { cause: failure }) : failure;
    }
  };

  return {
    forward: async (events) => {
      const deliveries: Delivery[] = [];
      for (const { bytes, count } of bodiesOf("events", events)) {
        let results: EventResult[];
        try {
          const answer = await call("forward", bytes, (signed) =>
            client.forwardEvents({ eventsJson: bytes, ...signed }, callOptions),
          );
          results = answer.result?.results ?? [];
          if (results.length !== count)
            throw new Error(`the relay answered ${results.length} of ${count} events`);
        } catch (error) {
          // Nothing stored yet: the whole call failed, as the caller handles it. Otherwise the events of
          // the calls before are stored and keep their answers, and this call's and the rest's are to be
          // sent again (queued): failing them all would have a client resend what was stored.
          if (deliveries.length === 0) throw error;
          console.warn("a later part of a forwarded batch failed; its events are sent again", error);
          while (deliveries.length < events.length) deliveries.push({ status: "retry" });
          return deliveries;
        }
        for (const r of results) {
          if (r.success) deliveries.push({ status: "stored" });
          else if (r.retryable) deliveries.push({ status: "retry" });
          else {
            const code = (r.errorCode in ERRORS ? r.errorCode : "invalid_event") as ErrorCode;
            const errors = r.errors.map(({ path, code, message }) => ({ path, code, message }) as Issue);
            const message = errors.map((e) => e.message).join("; ") || ERRORS[code].title;
            deliveries.push({ status: "refused", code, message, errors });
          }
        }
      }
      return deliveries;
    },
    quarantine: async (refusals: readonly Refusal[]) => {
      for (const { bytes } of bodiesOf("refusals", refusals)) {
        await call("quarantine", bytes, (signed) =>
          client.quarantineEvents({ refusalsJson: bytes, ...signed }, callOptions),
        );
      }
    },
  };
};
