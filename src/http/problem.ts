import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import {
  ApiError,
  ERRORS,
  type ErrorCode,
  type FieldError,
  PROBLEM_CONTENT_TYPE,
  problem,
} from "../core/index.ts";
import type { HttpEnv } from "./middleware.ts";

/** A refusal as problem+json (RFC 9457), naming the request's id. */
export const problemResponse = (
  c: Context<HttpEnv>,
  code: ErrorCode,
  detail: string,
  errors?: FieldError[],
) =>
  c.body(
    JSON.stringify(problem(code, detail, { errors, requestId: c.get("requestId") })),
    ERRORS[code].status,
    { "content-type": PROBLEM_CONTENT_TYPE },
  );

export const noRoute: NotFoundHandler<HttpEnv> = (c) =>
  problemResponse(c, "not_found", `no route for ${c.req.method} ${c.req.path}`);

/**
 * How the edge and the relay answer what a handler throws: an ApiError as its problem, with Retry-After
 * when it says when to retry (after `refused`, to log it if need be); anything else as `unexpected` says.
 */
export const answerErrors =
  (handlers: {
    refused?: (error: ApiError, c: Context<HttpEnv>) => void;
    unexpected: (error: Error, c: Context<HttpEnv>) => Response;
  }): ErrorHandler<HttpEnv> =>
  (error, c) => {
    if (!(error instanceof ApiError)) return handlers.unexpected(error, c);
    handlers.refused?.(error, c);
    if (error.retryAfterSeconds !== undefined) c.header("retry-after", String(error.retryAfterSeconds));
    return problemResponse(c, error.code, error.message, error.errors);
  };
