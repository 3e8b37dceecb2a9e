import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  ApiError,
  batchAnswer,
  bearerToken,
  ERRORS,
  type ErrorCode,
  eventFromProto,
  eventFromProtoBytes,
  type FieldError,
  issueToProto,
  MAX_EVENTS_PER_BATCH,
  nothingStored,
  parseBatch,
  parseJsonBody,
  RefusalBatch,
} from "../../core/index.ts";
import {
  type BehaviorEvent,
  BehaviorService,
  type TrackEventRequest,
  type TrackEventsRequest,
  type ValidateEventRequest,
} from "../../gen/recommender/v1/behavior_pb.js";
import {
  EdgeForwardingService,
  type ForwardEventsRequest,
  type QuarantineEventsRequest,
} from "../../gen/recommender/v1/edge_pb.js";
import type { Principal } from "../auth.ts";
import type { EdgeCallVerifier } from "../edge-calls.ts";
import type { IngestService } from "../ingest.ts";
import { sentJson } from "./connect-json.ts";
import { type RawEventRequest, rawBehaviorMethods } from "./raw-requests.ts";

/** The Connect/gRPC code of an error code: `invalid_argument` → Code.InvalidArgument. */
const codeOf = (code: ErrorCode): Code => {
  const name = ERRORS[code].rpc.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
  return Code[name as keyof typeof Code];
};

/** Our error code travels beside the gRPC status, so clients see the same codes as over REST. */
const ERROR_CODE_METADATA = "error-code";

export const rpcError = (code: ErrorCode, message: string, errors: FieldError[] = []) => {
  const error = new ConnectError(
    errors.length > 0 ? `${message}: ${errors.map((e) => e.message).join("; ")}` : message,
    codeOf(code),
  );
  error.metadata.set(ERROR_CODE_METADATA, code);
  return error;
};

/**
 * The event of a request as validation takes it: from its own bytes on binary calls (raw-requests.ts),
 * so that one that does not decode is refused alone; from the decoded message on JSON calls, with
 * `sent`, the event as the Connect JSON client sent it, whose unknown fields are kept for validation.
 * An absent one is an empty message, so validation names the missing fields.
 */
const eventOf = (event: BehaviorEvent | Uint8Array | undefined, sent?: unknown) =>
  event === undefined
    ? {}
    : event instanceof Uint8Array
      ? eventFromProtoBytes(event)
      : eventFromProto(event, sent);

/** A member of the call's request JSON, when it came as Connect JSON (`event`, `events`). */
const sentMember = (name: "event" | "events"): unknown => {
  const sent = sentJson();
  return typeof sent === "object" && sent !== null && Object.hasOwn(sent, name)
    ? (sent as Record<string, unknown>)[name]
    : undefined;
};

/** A batch answer (src/core/answers.ts) as TrackEventsResponse: the same fields, in protobuf's names. */
const batchMessageOf = (answer: ReturnType<typeof batchAnswer>) => ({
  ...answer,
  results: answer.results.map((r) =>
    r.success
      ? { index: r.index, success: true, eventId: r.event_id, validationWarnings: r.validation_warnings }
      : {
          index: r.index,
          success: false,
          errorCode: r.error_code,
          message: r.message,
          errors: r.errors,
          validationWarnings: r.validation_warnings,
          retryable: r.retryable,
        },
  ),
});

/** The ApiError of a call as a Connect error (with `retry-after` metadata when it says when). */
const asRpcError = (error: unknown) => {
  if (!(error instanceof ApiError)) return error;
  const rpc = rpcError(error.code, error.message, error.errors);
  if (error.retryAfterSeconds !== undefined) rpc.metadata.set("retry-after", String(error.retryAfterSeconds));
  return rpc;
};

/** TrackEvents' answer to a batch of events (as JSON values), for a caller already known. */
const trackBatch = async (ingest: IngestService, events: unknown[], principal: Principal) => {
  const count = events.length;
  if (count === 0) throw rpcError("invalid_request", "events must hold at least one event");
  if (count > MAX_EVENTS_PER_BATCH) {
    throw rpcError("payload_too_large", `a batch holds at most ${MAX_EVENTS_PER_BATCH} events, got ${count}`);
  }
  const outcomes = await ingest.trackBatch(events, principal);
  if (nothingStored(outcomes)) {
    throw rpcError("sink_unavailable", "the relay cannot store events right now; retry");
  }
  return batchMessageOf(batchAnswer(outcomes));
};

/** The request headers a handler reads, whichever server carried the call. */
export interface CallHeaders {
  get(name: string): string | null;
}

/** What a handler sees of its call: Connect's HandlerContext and grpc-js's metadata both give this. */
export interface CallContext {
  requestHeader: CallHeaders;
}

/** Unary handlers by method (local name), each answering a message init or throwing a ConnectError. */
// biome-ignore lint/suspicious/noExplicitAny: requests and answers are each method's own message types
export type UnaryHandlers = Record<string, (request: any, ctx: CallContext) => Promise<any>>;

/**
 * BehaviorService, on the same ingest service as REST; and the edge's EdgeForwardingService, whose calls
 * carry a signature instead of a key. Served by Connect on :8080 (gRPC, gRPC-Web, Connect) and by
 * grpc-js on :50051 (src/relay/rpc/grpc-server.ts).
 */
export const behaviorHandlers = (ingest: IngestService, edgeCalls: EdgeCallVerifier) => {
  const guarded = async <T>(ctx: CallContext, call: (principal: Principal) => Promise<T>) => {
    try {
      return await call(await ingest.authenticate(bearerToken(ctx.requestHeader.get("authorization"))));
    } catch (error) {
      throw asRpcError(error);
    }
  };

  const edgeForwarding = {
    forwardEvents: async (request: ForwardEventsRequest) => {
      try {
        const { eventsJson, timestampMs, nonce, signature } = request;
        await edgeCalls.verify("forward", { timestamp: Number(timestampMs), nonce, signature }, eventsJson);
        const batch = parseBatch(parseJsonBody(eventsJson));
        if (!batch.ok) throw new ApiError(batch.problem.code, batch.problem.detail, batch.problem.errors);
        return { result: await trackBatch(ingest, batch.events, { kind: "edge" }) };
      } catch (error) {
        throw asRpcError(error);
      }
    },
    quarantineEvents: async (request: QuarantineEventsRequest) => {
      try {
        const { refusalsJson, timestampMs, nonce, signature } = request;
        await edgeCalls.verify(
          "quarantine",
          { timestamp: Number(timestampMs), nonce, signature },
          refusalsJson,
        );
        const parsed = RefusalBatch.safeParse(parseJsonBody(refusalsJson));
        if (!parsed.success) throw new ApiError("invalid_request", "the body is not a list of refusals");
        return { quarantined: await ingest.quarantine(parsed.data.refusals, "edge") };
      } catch (error) {
        throw asRpcError(error);
      }
    },
  };

  const behavior = {
    trackEvent: (request: TrackEventRequest | RawEventRequest, ctx: CallContext) =>
      guarded(ctx, async (principal) => {
        const outcome = await ingest.track(eventOf(request.event, sentMember("event")), principal);
        if (!outcome.ok) throw rpcError(outcome.code, outcome.message, outcome.errors);
        return {
          success: true,
          eventId: outcome.eventId,
          message: "Event tracked successfully",
          validationWarnings: outcome.warnings.map(issueToProto),
        };
      }),

    trackEvents: (request: TrackEventsRequest | RawEventRequest, ctx: CallContext) =>
      guarded(ctx, (principal) => {
        const sent = sentMember("events");
        return trackBatch(
          ingest,
          (request.events ?? []).map((event, i) => eventOf(event, Array.isArray(sent) ? sent[i] : undefined)),
          principal,
        );
      }),

    validateEvent: (request: ValidateEventRequest | RawEventRequest, ctx: CallContext) =>
      guarded(ctx, async (principal) => {
        const result = await ingest.validate(eventOf(request.event, sentMember("event")), principal);
        return {
          success: result.ok,
          errors: result.errors.map(issueToProto),
          validationWarnings: result.warnings.map(issueToProto),
        };
      }),

    health: async () => {
      const report = await ingest.health();
      const { stats } = report;
      return {
        status: report.status,
        kafkaAvailable: report.kafka_available,
        stats: {
          totalEvents: BigInt(stats.total_events),
          kafkaSuccess: BigInt(stats.kafka_success),
          kafkaFailed: BigInt(stats.kafka_failed),
          rejected: BigInt(stats.rejected),
          validationWarnings: BigInt(stats.validation_warnings),
          successRate: stats.success_rate,
        },
      };
    },
  };
  return { behavior, edgeForwarding };
};

/**
 * The handlers as Connect routes, for calls of one format: binary calls (Connect, gRPC and gRPC-Web
 * with protobuf) read BehaviorService's events raw (raw-requests.ts), which a JSON body cannot be.
 */
export const connectRoutes =
  (handlers: ReturnType<typeof behaviorHandlers>, format: "json" | "binary") => (router: ConnectRouter) => {
    router.service(EdgeForwardingService, handlers.edgeForwarding);
    if (format === "json") router.service(BehaviorService, handlers.behavior);
    else {
      const byName: UnaryHandlers = handlers.behavior;
      for (const method of rawBehaviorMethods) router.rpc(method, byName[method.localName] as never);
    }
  };
