/**
 * The one error vocabulary of edge, relay and clients. Each code maps once to an HTTP status and
 * once to a Connect/gRPC code (by its Connect name, so core stays free of RPC libraries), and says
 * whether a client should retry the same request.
 */
export const ERRORS = {
  invalid_event: { status: 400, rpc: "invalid_argument", retryable: false, title: "Event is invalid" },
  malformed_body: { status: 400, rpc: "invalid_argument", retryable: false, title: "Body is not valid JSON" },
  invalid_request: { status: 400, rpc: "invalid_argument", retryable: false, title: "Request is invalid" },
  unauthenticated: {
    status: 401,
    rpc: "unauthenticated",
    retryable: false,
    title: "Missing or unknown API key",
  },
  forbidden: { status: 403, rpc: "permission_denied", retryable: false, title: "Not allowed for this key" },
  not_found: { status: 404, rpc: "not_found", retryable: false, title: "Not found" },
  conflict: { status: 409, rpc: "already_exists", retryable: false, title: "Already exists" },
  version_conflict: { status: 409, rpc: "aborted", retryable: false, title: "Changed by someone else" },
  payload_too_large: { status: 413, rpc: "resource_exhausted", retryable: false, title: "Payload too large" },
  unsupported_media_type: {
    status: 415,
    rpc: "invalid_argument",
    retryable: false,
    title: "Unsupported content type or encoding",
  },
  rate_limited: { status: 429, rpc: "resource_exhausted", retryable: true, title: "Rate limit exceeded" },
  request_timeout: { status: 408, rpc: "deadline_exceeded", retryable: true, title: "Request body too slow" },
  sink_unavailable: {
    status: 503,
    rpc: "unavailable",
    retryable: true,
    title: "Cannot store events right now",
  },
  store_unavailable: {
    status: 503,
    rpc: "unavailable",
    retryable: true,
    title: "Configuration store unavailable",
  },
  // 429, not 503: a flood of large bodies is the callers' doing, and 5xx stays the sign of our faults.
  overloaded: {
    status: 429,
    rpc: "resource_exhausted",
    retryable: true,
    title: "Too many large requests at once",
  },
  internal: { status: 500, rpc: "internal", retryable: true, title: "Internal error" },
} as const satisfies Record<string, { status: number; rpc: string; retryable: boolean; title: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Whether `code` is worth retrying by the table above; undefined for a code that is not ours. */
export const retryableCode = (code: string): boolean | undefined =>
  Object.hasOwn(ERRORS, code) ? ERRORS[code as ErrorCode].retryable : undefined;

/**
 * Whether a failed HTTP answer is worth sending again: what its problem+json says (`retryable`, from
 * the table above), or, for an answer that has none (a proxy's, a load balancer's), its status: 408,
 * 429 and 5xx.
 */
export const retryableAnswer = (status: number, body: unknown): boolean => {
  const said =
    typeof body === "object" && body !== null ? (body as { retryable?: unknown }).retryable : undefined;
  return typeof said === "boolean" ? said : status === 408 || status === 429 || status >= 500;
};

/** A field-level detail of an error. */
export interface FieldError {
  path: string;
  /** The problem's code (`required`, `invalid_type`…) where a validation rule found it. */
  code?: string;
  message: string;
}

/** RFC 9457 problem details, the body of every error answer on the HTTP paths. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  retryable: boolean;
  errors?: FieldError[];
  request_id?: string;
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** `type` is a stable identifier per code (docs/errors.md lists them), not a URL to fetch. */
const PROBLEM_TYPE_BASE = "urn:behavior-ingest:problem:";

export const problem = (
  code: ErrorCode,
  detail: string,
  extra: { errors?: FieldError[]; requestId?: string } = {},
): Problem => {
  const { status, retryable, title } = ERRORS[code];
  const body: Problem = { type: `${PROBLEM_TYPE_BASE}${code}`, title, status, detail, code, retryable };
  if (extra.errors !== undefined && extra.errors.length > 0) body.errors = extra.errors;
  if (extra.requestId !== undefined) body.request_id = extra.requestId;
  return body;
};

/** A refusal in the vocabulary above, thrown by edge and relay code; transports map it to HTTP and gRPC. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly errors: FieldError[];
  /** For `rate_limited`: when to try again (the Retry-After header, gRPC `retry-after` metadata). */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, errors: FieldError[] = [], retryAfterSeconds?: number) {
    super(message);
    this.code = code;
    this.errors = errors;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
