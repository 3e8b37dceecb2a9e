import type * as z from "zod";
import type { Issue, IssueCode } from "./field-spec.ts";

/** A zod path as field errors name it everywhere: `events[0].context.os`. */
const formatPath = (path: readonly PropertyKey[]): string => {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
};

/** The JSON kind of a value, as messages name it. */
export const kindOf = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "array" : typeof value;

/** Plain-language messages for zod's default issues; messages written on the schemas take precedence. */
const envelopeMessages: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case "invalid_type":
      return iss.input === undefined
        ? "is required"
        : `must be ${iss.expected === "int" ? "an integer" : `a ${iss.expected}`}, got ${kindOf(iss.input)}`;
    case "invalid_value":
      return `must be one of ${iss.values.map(String).join(", ")}`;
    case "too_small":
      return iss.origin === "string"
        ? `must be at least ${iss.minimum} characters`
        : `must be at least ${iss.minimum}`;
    case "too_big":
      return iss.origin === "string"
        ? `must be at most ${iss.maximum} characters`
        : `must be at most ${iss.maximum}`;
    case "invalid_union":
      return "is not a valid value";
    case "invalid_format":
      return `is not a valid ${iss.format}`;
    default:
      return undefined;
  }
};
/** Used only to explain a failed parse: the error map and input reporting slow down the accepting path. */
export const EXPLAIN_PARAMS = { error: envelopeMessages, reportInput: true };

const issueCodeOf = (iss: z.core.$ZodIssue): IssueCode => {
  switch (iss.code) {
    case "invalid_type":
      return iss.input === undefined ? "required" : "invalid_type";
    case "too_small":
    case "too_big":
      return iss.code;
    default:
      return "invalid_value";
  }
};

/**
 * Zod's issues as field problems, the one way every schema's failures are reported (events, admin
 * requests, tracking configs): one path format, our issue codes, and a message that starts with the
 * path, or with `subject` when the whole value is at fault.
 */
export const issuesOfZod = (issues: readonly z.core.$ZodIssue[], subject = "the value"): Issue[] =>
  issues.map((iss) => {
    const path = formatPath(iss.path);
    return { path, code: issueCodeOf(iss), message: `${path === "" ? subject : path} ${iss.message}` };
  });
