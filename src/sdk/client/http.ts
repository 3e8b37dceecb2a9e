import { type FieldError, type Issue, retryableAnswer } from "../../core/index.ts";
import { BatchFailure, problemOutcome, type Send } from "./transport.ts";

/** REST: POST /api/v1/behaviors/track/batch; problem+json answers become failures by their status. */
export const httpSend =
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
