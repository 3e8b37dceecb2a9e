import type { Context } from "hono";
import {
  ApiError,
  ERRORS,
  type ErrorCode,
  type FieldError,
  PROBLEM_CONTENT_TYPE,
  parseJsonBody,
  problem,
} from "../../core/index.ts";

export type RelayEnv = { Variables: { requestId: string } };

export const problemResponse = (
  c: Context<RelayEnv>,
  code: ErrorCode,
  detail: string,
  errors?: FieldError[],
) =>
  c.body(
    JSON.stringify(problem(code, detail, { errors, requestId: c.get("requestId") })),
    ERRORS[code].status,
    {
      "content-type": PROBLEM_CONTENT_TYPE,
    },
  );

/** Reads a JSON body: 415 for another content type, 400 for bytes that are not UTF-8 or JSON that does not parse. */
export const jsonBody = async (c: Context<RelayEnv>): Promise<unknown> => {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError("unsupported_media_type", "send the body as application/json");
  }
  return parseJsonBody(await c.req.arrayBuffer());
};
