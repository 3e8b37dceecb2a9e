import { describe, expect, it } from "vitest";
import { ERRORS, problem } from "../../src/core/index.ts";

describe("error vocabulary", () => {
  it("builds RFC 9457 problem details with the field errors and request id", () => {
    expect(
      problem("invalid_event", "1 event field is invalid", {
        errors: [{ path: "user_id", message: "user_id is required" }],
        requestId: "req_1",
      }),
    ).toEqual({
      type: "urn:behavior-ingest:problem:invalid_event",
      title: "Event is invalid",
      status: 400,
      detail: "1 event field is invalid",
      code: "invalid_event",
      retryable: false,
      errors: [{ path: "user_id", message: "user_id is required" }],
      request_id: "req_1",
    });
  });

  it("marks exactly the transient failures as retryable", () => {
    const retryable = Object.entries(ERRORS)
      .filter(([, e]) => e.retryable)
      .map(([code]) => code);
    expect(retryable.sort()).toEqual([
      "internal",
      "overloaded",
      "rate_limited",
      "request_timeout",
      "sink_unavailable",
      "store_unavailable",
    ]);
    for (const error of Object.values(ERRORS))
      expect(error.retryable).toBe(error.status >= 500 || error.status === 429 || error.status === 408);
  });
});
