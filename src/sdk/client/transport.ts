import type { BehaviorEvent, FieldError, Issue } from "../../core/index.ts";

// What the client's transports (http.ts, grpc.ts) and its batching (batcher.ts) share: the answer for
// one event, and a whole request's failure, which the batching retries or answers for every event.

export type TrackOutcome =
  | { success: true; event_id: string; warnings: Issue[] }
  | { success: false; error_code: string; message: string; errors: FieldError[]; retryable: boolean };

/** A whole-request failure: retried when `retryable`, else the answer for every event of the batch. */
export class BatchFailure extends Error {
  readonly code: string;
  readonly retryable: boolean;
  constructor(code: string, message: string, retryable: boolean) {
    super(message);
    this.code = code;
    this.retryable = retryable;
  }
}

/** Sends one batch: an outcome per event, in order, or a {@link BatchFailure} for all of them. */
export type Send = (events: readonly BehaviorEvent[]) => Promise<TrackOutcome[]>;

export const problemOutcome = (code: string, message: string, errors: FieldError[], retryable: boolean) =>
  ({ success: false, error_code: code, message, errors, retryable }) as const;
