import {
  type ActionType,
  type BehaviorContext,
  type BehaviorEventInput,
  defaultEnvironment,
  type EcommerceData,
  type EducationData,
  encodeEvent,
  invalidEvent,
  isPlainObject,
  MAX_EVENTS_PER_BATCH,
  type MusicData,
  type NewsData,
  type ScenarioData,
  type SocialData,
  type VideoData,
  validateEvent,
} from "../core/index.ts";
import { Batcher } from "./client/batcher.ts";
import { grpcSend } from "./client/grpc.ts";
import { httpSend } from "./client/http.ts";
import { problemOutcome, type TrackOutcome } from "./client/transport.ts";

// The Node client's public API: its options, the typed helpers and the local check. The parts are in
// ./client/: the batching and retries (batcher.ts) over one of two transports, REST (http.ts) or gRPC
// (grpc.ts), and what they share (transport.ts).

export type { TrackOutcome } from "./client/transport.ts";

export interface BehaviorClientOptions {
  /** `http`: the REST API of the relay or the edge (e.g. http://127.0.0.1:8080); `grpc`: the relay's gRPC port (http://127.0.0.1:50051). */
  transport: "http" | "grpc";
  url: string;
  /** A service key (any tenant) or a tenant's secret key. */
  apiKey: string;
  /** Filled into events without `tenant_id`. */
  tenantId?: string;
  /** Merged under each event's own `context` (e.g. `{ device_type: "pc" }` for server-side events). */
  context?: Partial<BehaviorContext>;
  /** A batch goes when it holds this many events (at most 100)… */
  maxBatchEvents?: number;
  /** …or when its oldest event has waited this long (default 200 ms). */
  lingerMs?: number;
  /** Attempts per batch for retryable failures (timeouts, 429, 503, connection errors); default 5. */
  attempts?: number;
  timeoutMs?: number;
}

/** The fields every typed helper takes; the helper sets `action_type` and `scenario_data`. */
export type EventFields = Omit<
  BehaviorEventInput,
  "action_type" | "scenario_data" | "tenant_id" | "context"
> & {
  tenant_id?: string;
  context?: Partial<BehaviorContext>;
};

/**
 * The Node client for services that talk to the relay (or the edge) over HTTP or gRPC. Events are
 * checked locally by `src/core` (an invalid event is answered at once, without a round trip), given
 * their `event_id` and `timestamp` here so a retry is recognisably the same event, batched, and sent
 * one batch at a time so a user's events keep their order. Retryable failures are retried with
 * exponential backoff and jitter; others are answered. `track` never rejects: it resolves with the
 * outcome of the event.
 */
export class BehaviorClient {
  private readonly batcher: Batcher;
  private readonly options: Required<Omit<BehaviorClientOptions, "tenantId">> & { tenantId?: string };

  constructor(options: BehaviorClientOptions) {
    this.options = {
      context: {},
      maxBatchEvents: MAX_EVENTS_PER_BATCH,
      lingerMs: 200,
      attempts: 5,
      timeoutMs: 10_000,
      ...options,
    };
    const { transport, url, apiKey, timeoutMs } = this.options;
    const send = transport === "grpc" ? grpcSend(url, apiKey, timeoutMs) : httpSend(url, apiKey, timeoutMs);
    this.batcher = new Batcher(send, this.options);
  }

  track(
    input: EventFields & { action_type: ActionType; scenario_data?: ScenarioData },
  ): Promise<TrackOutcome> {
    const filled = {
      ...input,
      tenant_id: input.tenant_id ?? this.options.tenantId,
      context: { ...this.options.context, ...(isPlainObject(input.context) ? input.context : {}) },
    };
    // Checked here without the tenant's config, only to refuse what no config would accept without a
    // round trip; the server checks against the config, and its warnings are the ones answered.
    const result = validateEvent(filled, undefined, defaultEnvironment);
    if (!result.ok) {
      const refusal = invalidEvent(result.errors, result.warnings);
      return Promise.resolve(problemOutcome(refusal.code, refusal.message, result.errors, false));
    }
    // received_at is the relay's to stamp: the local check's stamp would reach Kafka as the client's
    // (client_received_at), beside the timestamp that already says when it happened.
    const { received_at: _stampedHere, ...event } = result.event;
    const encoded = encodeEvent(event);
    if (!encoded.ok) {
      return Promise.resolve(problemOutcome(encoded.code, encoded.error.message, [encoded.error], false));
    }
    return this.batcher.add(event, encoded.json.length);
  }

  /** Impression: the item entered the viewport. */
  trackImpression(fields: EventFields): Promise<TrackOutcome> {
    return this.track({ ...fields, action_type: "impression" });
  }

  trackClick(fields: EventFields): Promise<TrackOutcome> {
    return this.track({ ...fields, action_type: "click" });
  }

  /** A video finished playing (or the user left it): how long it is and how much was watched. */
  trackVideoPlay(fields: EventFields, video: VideoData): Promise<TrackOutcome> {
    return this.track({ ...fields, action_type: "play_end", scenario_data: { video_data: video } });
  }

  trackMusicPlay(fields: EventFields, music: MusicData): Promise<TrackOutcome> {
    return this.track({ ...fields, action_type: "play_end", scenario_data: { music_data: music } });
  }

  /** An article was read to where the user stopped: duration and progress. */
  trackArticleRead(fields: EventFields, news: NewsData): Promise<TrackOutcome> {
    return this.track({ ...fields, action_type: "read_end", scenario_data: { news_data: news } });
  }

  trackPurchase(fields: EventFields, ecommerce: EcommerceData): Promise<TrackOutcome> {
    return this.track({ ...fields, action_type: "purchase", scenario_data: { ecommerce_data: ecommerce } });
  }

  trackLessonComplete(fields: EventFields, education: EducationData): Promise<TrackOutcome> {
    return this.track({ ...fields, action_type: "complete", scenario_data: { education_data: education } });
  }

  trackFollow(fields: EventFields, social: SocialData): Promise<TrackOutcome> {
    return this.track({ ...fields, action_type: "follow", scenario_data: { social_data: social } });
  }

  /** Sends everything queued and waits for the answers. */
  flush(): Promise<void> {
    return this.batcher.flush();
  }

  close(): Promise<void> {
    return this.flush();
  }
}
