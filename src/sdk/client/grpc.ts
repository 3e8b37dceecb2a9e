import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { eventToProto, type Issue, retryableCode } from "../../core/index.ts";
import { BehaviorService } from "../../gen/recommender/v1/behavior_pb.js";
import { BatchFailure, problemOutcome, type Send } from "./transport.ts";

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
export const grpcSend = (url: string, apiKey: string, timeoutMs: number): Send => {
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
