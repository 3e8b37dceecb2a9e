import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import {
  type BehaviorEvent,
  eventToProto,
  MAX_EVENTS_PER_BATCH,
  MAX_REQUEST_BYTES,
  signCall,
} from "../core/index.ts";
import { TrackEventsRequestSchema } from "../gen/recommender/v1/behavior_pb.js";
import { EdgeForwardingService } from "../gen/recommender/v1/edge_pb.js";
import { webCallCrypto } from "./digest.ts";
import type { Forwarder } from "./ports.ts";

/** Room left in a relay request for the signature fields around the batch. */
const MAX_BATCH_BYTES = MAX_REQUEST_BYTES - 4096;

const encode = (messages: ReturnType<typeof eventToProto>[]) =>
  toBinary(TrackEventsRequestSchema, create(TrackEventsRequestSchema, { events: messages }));

/**
 * Cuts events into batches the relay takes: at most 100 events and, encoded, under its request limit
 * (protobuf can be larger than the JSON the client sent, e.g. numbers in custom data). A batch over the
 * limit, which real traffic hardly makes, is halved until each part fits, keeping the order.
 */
const batchesOf = (events: readonly BehaviorEvent[]) => {
  const batches: Uint8Array[] = [];
  const add = (messages: ReturnType<typeof eventToProto>[]) => {
    const bytes = encode(messages);
    if (bytes.byteLength <= MAX_BATCH_BYTES || messages.length === 1) batches.push(bytes);
    else {
      const half = Math.ceil(messages.length / 2);
      add(messages.slice(0, half));
      add(messages.slice(half));
    }
  };
  const messages = events.map(eventToProto);
  for (let i = 0; i < messages.length; i += MAX_EVENTS_PER_BATCH)
    add(messages.slice(i, i + MAX_EVENTS_PER_BATCH));
  return batches;
};

/**
 * Sends events to the relay's ForwardEvents over the Connect protocol (binary protobuf over fetch,
 * which Workers and Deno both have), each batch signed with the secret the edge and the relay share
 * (src/core/edge-signing.ts), retrying a few times with backoff and a new signature. The events carry
 * their `event_id`, so a retry that the relay had already taken is a duplicate with the same id, not
 * a new event. Throws when the relay does not take them: the caller then queues them.
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
  const send = async (batch: Uint8Array) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const signed = await signCall(webCallCrypto, secrets, "forward", batch);
        const answer = await client.forwardEvents(
          { batch, timestampMs: BigInt(signed.timestamp), nonce: signed.nonce, signature: signed.signature },
          { timeoutMs: options.timeoutMs ?? 3_000 },
        );
        if (answer.result === undefined) throw new Error("the relay gave no result");
        const retry = answer.result.results.filter((r) => !r.success && r.retryable);
        if (retry.length === 0) return;
        throw new Error(`${retry.length} events were not stored by the relay`);
      } catch (error) {
        if (attempt >= attempts) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    }
  };
  return {
    forward: async (events) => {
      for (const batch of batchesOf(events)) await send(batch);
    },
  };
};
