import type { Context } from "hono";
import {
  ApiError,
  type BodyTab,
  ERRORS,
  type ErrorCode,
  type FieldError,
  PROBLEM_CONTENT_TYPE,
  parseJsonBody,
  problem,
} from "../../core/index.ts";

export type RelayEnv = { Variables: { requestId: string; bodyTab: BodyTab } };

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

/**
 * Reads a JSON body: 415 for another content type, 400 for bytes that are not UTF-8 or JSON that does
 * not parse, 429 `overloaded` when the relay's body budget has no room (taken from the declared length
 * before reading, and from the bytes read before parsing).
 */
export const jsonBody = async (c: Context<RelayEnv>): Promise<unknown> => {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError("unsupported_media_type", "send the body as application/json");
  }
  const tab = c.get("bodyTab");
  const declared = Number(c.req.header("content-length") ?? Number.NaN);
  if (Number.isSafeInteger(declared)) tab.take(declared);
  const bytes = await c.req.arrayBuffer();
  if (!Number.isSafeInteger(declared)) tab.take(bytes.byteLength);
  return parseJsonBody(bytes);
};
