import { describe, expect, it } from "vitest";
import { ERRORS, problem, retryableAnswer, retryableCode } from "../../src/core/index.ts";

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

  it("lets clients retry by what an answer says, and by its status only when it says nothing", () => {
    expect(retryableCode("sink_unavailable")).toBe(true);
    expect(retryableCode("payload_too_large")).toBe(false);
    expect(retryableCode("not_one_of_ours")).toBeUndefined();
    // Ours: the problem's own `retryable` decides, whatever the status.
    expect(retryableAnswer(413, { code: "payload_too_large", retryable: false })).toBe(false);
    expect(retryableAnswer(503, { code: "sink_unavailable", retryable: true })).toBe(true);
    expect(retryableAnswer(500, { retryable: false })).toBe(false);
    // A proxy's answer, or no JSON at all: 408, 429 and 5xx are worth another attempt.
    for (const status of [408, 429, 500, 502, 503]) expect(retryableAnswer(status, undefined)).toBe(true);
    for (const status of [400, 401, 403, 404, 413]) expect(retryableAnswer(status, "<html>")).toBe(false);
  });
});
