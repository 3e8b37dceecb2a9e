import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import {
  ApiError,
  bearerToken,
  ERRORS,
  type ErrorCode,
  eventFromProto,
  type FieldError,
  issueToProto,
  MAX_EVENTS_PER_BATCH,
} from "../../core/index.ts";
import { type BehaviorEvent, BehaviorService } from "../../gen/recommender/v1/behavior_pb.js";
import type { EventOutcome, IngestService } from "../ingest.ts";

/** The Connect/gRPC code of an error code: `invalid_argument` → Code.InvalidArgument. */
const codeOf = (code: ErrorCode): Code => {
  const name = ERRORS[code].rpc.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
  return Code[name as keyof typeof Code];
};

const rpcError = (code: ErrorCode, message: string, errors: FieldError[] = []) =>
  new ConnectError(
    errors.length > 0 ? `${message}: ${errors.map((e) => e.message).join("; ")}` : message,
    codeOf(code),
  );

/** The event of a request; an absent one is an empty message, so validation names the missing fields. */
const eventOf = (event: BehaviorEvent | undefined) => (event === undefined ? {} : eventFromProto(event));

const resultOf = (outcome: EventOutcome, index: number) =>
  outcome.ok
    ? {
        index,
        success: true,
        eventId: outcome.eventId,
        validationWarnings: outcome.warnings.map(issueToProto),
      }
    : {
        index,
        success: false,
        errors: outcome.errors.map(issueToProto),
        validationWarnings: outcome.warnings.map(issueToProto),
        errorCode: outcome.code,
        retryable: ERRORS[outcome.code].retryable,
      };

/** BehaviorService over gRPC, gRPC-Web and Connect, on the same ingest service as REST. */
export const behaviorRoutes = (ingest: IngestService) => (router: ConnectRouter) => {
  const guarded = async <T>(
    ctx: HandlerContext,
    call: (principal: Awaited<ReturnType<IngestService["authenticate"]>>) => Promise<T>,
  ) => {
    try {
      return await call(await ingest.authenticate(bearerToken(ctx.requestHeader.get("authorization"))));
    } catch (error) {
      if (error instanceof ApiError) {
        const rpc = rpcError(error.code, error.message, error.errors);
        if (error.retryAfterSeconds !== undefined)
          rpc.metadata.set("retry-after", String(error.retryAfterSeconds));
        throw rpc;
      }
      throw error;
    }
  };

  router.service(BehaviorService, {
    trackEvent: (request, ctx) =>
      guarded(ctx, async (principal) => {
        const outcome = await ingest.track(eventOf(request.event), principal);
        if (!outcome.ok) throw rpcError(outcome.code, outcome.message, outcome.errors);
        return {
          success: true,
          eventId: outcome.eventId,
          message: "Event tracked successfully",
          validationWarnings: outcome.warnings.map(issueToProto),
        };
      }),

    trackEvents: (request, ctx) =>
      guarded(ctx, async (principal) => {
        const count = request.events.length;
        if (count === 0) throw rpcError("invalid_request", "events must hold at least one event");
        if (count > MAX_EVENTS_PER_BATCH) {
          throw rpcError(
            "payload_too_large",
            `a batch holds at most ${MAX_EVENTS_PER_BATCH} events, got ${count}`,
          );
        }
        const outcomes = await ingest.trackBatch(request.events.map(eventOf), principal);
        const succeeded = outcomes.filter((o) => o.ok).length;
        if (succeeded === 0 && outcomes.every((o) => !o.ok && o.code === "sink_unavailable")) {
          throw rpcError("sink_unavailable", "the relay cannot store events right now; retry");
        }
        return {
          success: succeeded === count,
          total: count,
          succeeded,
          failed: count - succeeded,
          results: outcomes.map(resultOf),
        };
      }),

    validateEvent: (request, ctx) =>
      guarded(ctx, async (principal) => {
        const result = await ingest.validate(eventOf(request.event), principal);
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
  });
};
