import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { type BehaviorEvent, eventToProto, MAX_EVENTS_PER_BATCH } from "../core/index.ts";
import { BehaviorService } from "../gen/recommender/v1/behavior_pb.js";
import type { Forwarder } from "./ports.ts";

/**
 * Sends events to the relay's TrackEvents over the Connect protocol (binary protobuf over fetch, which
 * Workers and Deno both have), with a service key, in batches of at most 100, retrying a few times with
 * backoff. The events carry their `event_id`, so a retry that the relay had already taken is a
 * duplicate with the same id, not a new event. Throws when the relay does not take them: the caller
 * then queues them.
 */
export const relayForwarder = (
  relayUrl: string,
  serviceKey: string,
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
  const client = createClient(BehaviorService, transport);
  const attempts = options.attempts ?? 3;
  const send = async (events: readonly BehaviorEvent[]) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const answer = await client.trackEvents(
          { events: events.map(eventToProto) },
          { headers: { authorization: `Bearer ${serviceKey}` }, timeoutMs: options.timeoutMs ?? 3_000 },
        );
        const retry = answer.results.filter((r) => !r.success && r.retryable);
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
      for (let i = 0; i < events.length; i += MAX_EVENTS_PER_BATCH)
        await send(events.slice(i, i + MAX_EVENTS_PER_BATCH));
    },
  };
};
