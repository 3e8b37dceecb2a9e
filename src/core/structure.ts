import { type Issue, type IssueCode, issue } from "./field-spec.ts";
import {
  MAX_JSON_DEPTH,
  MAX_KEY_LENGTH,
  MAX_OBJECT_KEYS,
  MAX_SAFE_NUMBER,
  MAX_STRING_LENGTH,
} from "./limits.ts";

/** A problem found below the top of a value: its path is built on the way back, only when there is one. */
interface Found {
  path: (string | number)[];
  code: IssueCode;
  detail: string;
  /** Too deep: named by the field it is in, not by the 30-odd keys down to where the limit was crossed. */
  tooDeep?: true;
}

const found = (code: IssueCode, detail: string): Found => ({ path: [], code, detail });

/**
 * The first part of a value beyond the structure limits (src/core/limits.ts). Recursion stops at
 * `levelsLeft`, so hostile nesting cannot overflow the stack (a cycle, from a JavaScript caller, is
 * simply too deep); nothing is allocated for a value within the limits.
 */
const beyondLimits = (value: unknown, levelsLeft: number): Found | undefined => {
  switch (typeof value) {
    case "string":
      return value.length > MAX_STRING_LENGTH
        ? found("too_big", `is ${value.length} characters long; at most ${MAX_STRING_LENGTH} are allowed`)
        : undefined;
    case "number":
      // JSON has no NaN or Infinity: JSON.stringify would write null in their place, silently.
      if (!Number.isFinite(value)) return found("invalid_value", "must be a finite number");
      return Math.abs(value) > MAX_SAFE_NUMBER
        ? found(
            "too_big",
            `is beyond ±${MAX_SAFE_NUMBER} (2^53 − 1), where numbers are not carried exactly; send it as a string`,
          )
        : undefined;
    case "bigint":
      return found("invalid_type", "is a bigint, which JSON cannot carry; send it as a string");
    case "object":
      break;
    default:
      return undefined;
  }
  if (value === null) return undefined;
  if (levelsLeft === 0)
    return { ...found("too_big", `is nested deeper than ${MAX_JSON_DEPTH} levels`), tooDeep: true };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = beyondLimits(value[i], levelsLeft - 1);
      if (problem !== undefined) {
        problem.path.unshift(i);
        return problem;
      }
    }
    return undefined;
  }
  return beyondLimitsOfObject(value as Record<string, unknown>, levelsLeft - 1);
};

/**
 * {@link beyondLimits} of an object's keys and values; its values get `levelsLeft`. A for-in loop, not
 * Object.keys: every accepted event pays for this walk, and a key list per object doubled its cost
 * (inherited enumerable keys, which JSON objects do not have, would only be checked as well).
 */
const beyondLimitsOfObject = (object: Record<string, unknown>, levelsLeft: number): Found | undefined => {
  let keys = 0;
  for (const key in object) {
    if (++keys > MAX_OBJECT_KEYS) return found("too_big", `has more than ${MAX_OBJECT_KEYS} keys`);
    // The key itself is not named: it is what is too long.
    if (key.length > MAX_KEY_LENGTH) {
      return found("too_big", `has a key of ${key.length} characters; at most ${MAX_KEY_LENGTH} are allowed`);
    }
    const problem = beyondLimits(object[key], levelsLeft);
    if (problem !== undefined) {
      problem.path.unshift(key);
      return problem;
    }
  }
  return undefined;
};

/** A path as field errors name it everywhere: `extra_data.items[3].name`. */
const pathText = (path: readonly (string | number)[]): string => {
  let out = "";
  for (const key of path) out += typeof key === "number" ? `[${key}]` : out === "" ? key : `.${key}`;
  return out;
};

/**
 * The first place where an event (a JSON object) is beyond the structure limits, as the field problem
 * that refuses it: an object with more than {@link MAX_OBJECT_KEYS} keys or a key longer than
 * {@link MAX_KEY_LENGTH}, a string longer than {@link MAX_STRING_LENGTH}, a number beyond 2^53 − 1 (or
 * not finite, or a bigint), or objects and arrays nested more than {@link MAX_JSON_DEPTH} levels under
 * a field. Checked before anything else reads the event, so nothing downstream meets such a value.
 */
export const structureProblem = (event: Record<string, unknown>): Issue | undefined => {
  const problem = beyondLimitsOfObject(event, MAX_JSON_DEPTH);
  if (problem === undefined) return undefined;
  // Depth is named by the free-form field (`extra_data`, `scenario_data.custom_data`).
  const path = problem.tooDeep
    ? problem.path.slice(0, problem.path[0] === "scenario_data" ? 2 : 1)
    : problem.path;
  return issue(pathText(path), problem.code, problem.detail);
};

/**
 * An event that could not be read at all, so validation refuses it with `problem` (a protobuf event
 * whose bytes do not decode: invalid UTF-8 in a string, a Struct nested past protobuf's limit). It
 * claims no tenant, so it is neither quarantined nor counted under one.
 */
export class UnreadableEvent {
  readonly problem: Issue;

  constructor(problem: Issue) {
    this.problem = problem;
  }
}
