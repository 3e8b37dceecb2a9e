import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  type ActionType,
  type BehaviorContext,
  type BehaviorEvent,
  type BehaviorEventInput,
  defaultEnvironment,
  type EcommerceData,
  type EducationData,
  encodeEvent,
  eventToProto,
  type FieldError,
  type Issue,
  invalidEvent,
  isPlainObject,
  MAX_EVENTS_PER_BATCH,
  type MusicData,
  type NewsData,
  retryableAnswer,
  retryableCode,
  type ScenarioData,
  type SocialData,
  type VideoData,
  validateEvent,
} from "../core/index.ts";
import { BehaviorService } from "../gen/recommender/v1/behavior_pb.js";

export type TrackOutcome =
  | { success: true; event_id: string; warnings: Issue[] }
  | { success: false; error_code: string; message: string; errors: FieldError[]; retryable: boolean };

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

/** A whole-request failure: retried when `retryable`, else the answer for every event of the batch. */
class BatchFailure extends Error {
  readonly code: string;
  readonly retryable: boolean;
  constructor(code: string, message: string, retryable: boolean) {
    super(message);
    this.code = code;
    this.retryable = retryable;
  }
}

type Send = (events: readonly BehaviorEvent[]) => Promise<TrackOutcome[]>;

const problemOutcome = (code: string, message: string, errors: FieldError[], retryable: boolean) =>
  ({ success: false, error_code: code, message, errors, retryable }) as const;

/** REST: POST /api/v1/behaviors/track/batch; problem+json answers become failures by their status. */
const httpSend =
  (url: string, apiKey: string, timeoutMs: number): Send =>
  async (events) => {
    let response: Response;
    try {
      response = await fetch(`${url.replace(/\/$/, "")}/api/v1/behaviors/track/batch`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
        body: JSON.stringify({ events }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new BatchFailure("unavailable", `cannot reach ${url}: ${(error as Error).message}`, true);
    }
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) {
      const code = typeof body.code === "string" ? body.code : `http_${response.status}`;
      throw new BatchFailure(
        code,
        String(body.detail ?? response.statusText),
        retryableAnswer(response.status, body),
      );
    }
    const results = (body.results ?? []) as Record<string, unknown>[];
    return results.map((r) =>
      r.success === true
        ? { success: true, event_id: String(r.event_id), warnings: (r.validation_warnings ?? []) as Issue[] }
        : problemOutcome(
            String(r.error_code),
            String(r.message),
            (r.errors ?? []) as FieldError[],
            r.retryable === true,
          ),
    );
  };

/**
 * Connect codes worth another attempt when the answer carries none of our codes (a proxy answered): the
 * server was busy, unreachable or too slow.
 */
const RETRYABLE_CODES = new Set([
  Code.Unavailable,
  Code.ResourceExhausted,
  Code.DeadlineExceeded,
  Code.Aborted,
]);

/** gRPC (HTTP/2) TrackEvents; events travel as protobuf. */
const grpcSend = (url: string, apiKey: string, timeoutMs: number): Send => {
  const client = createClient(BehaviorService, createGrpcTransport({ baseUrl: url }));
  return async (events) => {
    try {
      const answer = await client.trackEvents(
        { events: events.map(eventToProto) },
        { headers: { authorization: `Bearer ${apiKey}` }, timeoutMs },
      );
      return answer.results.map((r) =>
        r.success
          ? {
              success: true,
              event_id: r.eventId,
              warnings: r.validationWarnings.map(({ path, code, message }) => ({
                path,
                code,
                message,
              })) as Issue[],
            }
          : problemOutcome(
              r.errorCode,
              r.message,
              r.errors.map(({ path, code, message }) => ({ path, code, message })),
              r.retryable,
            ),
      );
    } catch (error) {
      const connect = ConnectError.from(error);
      // Our code (`forbidden`, `sink_unavailable` …) as the relay sends it in the `error-code`
      // metadata, retried as the error table says; without it (a proxy answered) the gRPC status in
      // snake case, retried by the status alone.
      const ours = connect.metadata.get("error-code");
      const code =
        ours ??
        Code[connect.code].replace(/[A-Z]/g, (c, at: number) => `${at > 0 ? "_" : ""}${c.toLowerCase()}`);
      const retryable =
        (ours === null ? undefined : retryableCode(ours)) ?? RETRYABLE_CODES.has(connect.code);
      throw new BatchFailure(code, connect.rawMessage, retryable);
    }
  };
};

interface Pending {
  event: BehaviorEvent;
  bytes: number;
  resolve: (outcome: TrackOutcome) => void;
}

/** Bytes per request, well under the servers' 1 MiB body limit. */
const MAX_BATCH_BYTES = 512 * 1024;

/**
 * The Node client for services that talk to the relay (or the edge) over HTTP or gRPC. Events are
 * checked locally by `src/core` (an invalid event is answered at once, without a round trip), given
 * their `event_id` and `timestamp` here so a retry is recognisably the same event, batched, and sent
 * one batch at a time so a user's events keep their order. Retryable failures are retried with
 * exponential backoff and jitter; others are answered. `track` never rejects: it resolves with the
 * outcome of the event.
 */
export class BehaviorClient {
  #queue: Pending[] = [];
  #queuedBytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sending: Promise<void> | undefined;

  private readonly send: Send;
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
    this.send = transport === "grpc" ? grpcSend(url, apiKey, timeoutMs) : httpSend(url, apiKey, timeoutMs);
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
    return new Promise((resolve) => {
      this.#queue.push({ event, bytes: encoded.json.length, resolve });
      this.#queuedBytes += encoded.json.length;
      const full = this.#queue.length >= this.options.maxBatchEvents || this.#queuedBytes >= MAX_BATCH_BYTES;
      if (full) this.#flushSoon(0);
      else this.#flushSoon(this.options.lingerMs);
    });
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
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#sending !== undefined) {
      this.#flushSoon(0);
      await this.#sending;
    }
  }

  close(): Promise<void> {
    return this.flush();
  }

  #flushSoon(delay: number): void {
    if (this.#sending !== undefined) return;
    if (delay === 0 || this.#timer === undefined) {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#sending ??= this.#drain().finally(() => {
          this.#sending = undefined;
          if (this.#queue.length > 0) this.#flushSoon(0);
        });
      }, delay);
    }
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#take();
      const outcomes = await this.#deliver(batch.map((p) => p.event));
      for (const [i, p] of batch.entries()) p.resolve(outcomes[i] as TrackOutcome);
    }
  }

  #take(): Pending[] {
    const batch: Pending[] = [];
    let bytes = 0;
    while (this.#queue.length > 0 && batch.length < this.options.maxBatchEvents) {
      const next = this.#queue[0] as Pending;
      if (batch.length > 0 && bytes + next.bytes > MAX_BATCH_BYTES) break;
      batch.push(next);
      bytes += next.bytes;
      this.#queue.shift();
    }
    this.#queuedBytes -= bytes;
    return batch;
  }

  /** Sends a batch; retries the whole batch on a retryable failure and the events the server called retryable. */
  async #deliver(events: readonly BehaviorEvent[]): Promise<TrackOutcome[]> {
    const outcomes: (TrackOutcome | undefined)[] = events.map(() => undefined);
    let todo = events.map((_, i) => i);
    for (let attempt = 1; ; attempt++) {
      try {
        const answers = await this.send(todo.map((i) => events[i] as BehaviorEvent));
        todo.forEach((index, j) => {
          outcomes[index] = answers[j];
        });
      } catch (error) {
        const failure =
          error instanceof BatchFailure ? error : new BatchFailure("internal", String(error), false);
        for (const index of todo) {
          outcomes[index] = problemOutcome(failure.code, failure.message, [], failure.retryable);
        }
      }
      todo = todo.filter((i) => {
        const outcome = outcomes[i] as TrackOutcome;
        return !outcome.success && outcome.retryable;
      });
      if (todo.length === 0 || attempt >= this.options.attempts) return outcomes as TrackOutcome[];
      const backoff = Math.min(5000, 100 * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, backoff / 2 + Math.random() * (backoff / 2)));
    }
  }
}
