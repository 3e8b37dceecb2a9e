import type { ErrorCode, FieldError } from "../core/index.ts";

/** A refusal in the one error vocabulary; transports map the code to HTTP and gRPC. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly errors: FieldError[];

  constructor(code: ErrorCode, message: string, errors: FieldError[] = []) {
    super(message);
    this.code = code;
    this.errors = errors;
  }
}
