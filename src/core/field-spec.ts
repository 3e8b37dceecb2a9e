import * as z from "zod";
import { isPlainObject } from "./json.ts";

export const FIELD_TYPES = ["integer", "float", "string", "boolean", "array", "object"] as const;
export const FieldType = z.enum(FIELD_TYPES);
export type FieldType = z.infer<typeof FieldType>;

/**
 * Element type of an `array` field, or value type of an `object` field used as a map: our addition to
 * the tracking-config model, so that lists such as `seek_positions` and maps such as
 * `feature_importance` are checked too.
 */
export const ItemType = z.enum(["integer", "float", "string", "boolean"]);
export type ItemType = z.infer<typeof ItemType>;

const isNumeric = (t: FieldType | ItemType | undefined) => t === "integer" || t === "float";

/** How one field of a scenario's data is checked. */
export const FieldSpec = z
  .strictObject({
    field_name: z
      .string()
      .regex(
        /^[a-z][a-z0-9_]{0,63}$/,
        "must be snake_case: a lowercase letter, then letters, digits or _, at most 64",
      )
      .describe("Name of the field inside the scenario's *_data member"),
    field_type: FieldType.describe(
      "JSON type of the value; integer is a whole number, float any finite number",
    ),
    item_type: ItemType.optional().describe(
      "For arrays the type of every element, for objects of every value",
    ),
    required: z.boolean().default(false).describe("Whether events must carry the field"),
    description: z.string().max(1024).optional().describe("What the field means"),
    min_value: z
      .number()
      .optional()
      .describe("Smallest allowed value (of a number, or of each numeric element)"),
    max_value: z
      .number()
      .optional()
      .describe("Largest allowed value (of a number, or of each numeric element)"),
    allowed_values: z
      .array(z.string().max(256))
      .min(1)
      .max(1000)
      .optional()
      .describe("The only values allowed (of a string, or of each string element)"),
  })
  .superRefine((spec, ctx) => {
    const container = spec.field_type === "array" || spec.field_type === "object";
    if (spec.item_type !== undefined && !container) {
      ctx.addIssue({
        code: "custom",
        path: ["item_type"],
        message: "only array and object fields have an item_type",
      });
    }
    const checked = container ? spec.item_type : spec.field_type;
    for (const bound of ["min_value", "max_value"] as const) {
      if (spec[bound] !== undefined && !isNumeric(checked)) {
        ctx.addIssue({
          code: "custom",
          path: [bound],
          message: `applies to integer or float fields only, not ${spec.field_type}`,
        });
      }
    }
    if (spec.min_value !== undefined && spec.max_value !== undefined && spec.min_value > spec.max_value) {
      ctx.addIssue({ code: "custom", path: ["min_value"], message: "must not be greater than max_value" });
    }
    if (spec.allowed_values !== undefined && checked !== "string") {
      ctx.addIssue({
        code: "custom",
        path: ["allowed_values"],
        message: `applies to string fields only, not ${spec.field_type}`,
      });
    }
  });
export type FieldSpec = z.infer<typeof FieldSpec>;

/** A problem found in an event; `path` is the dotted field path, also named in `message`. */
export interface Issue {
  path: string;
  code: IssueCode;
  message: string;
}
export type IssueCode =
  | "required"
  | "invalid_type"
  | "invalid_value"
  | "too_small"
  | "too_big"
  | "unknown_field"
  | "unexpected_action"
  | "no_config"
  | "inactive_config"
  | "scenario_mismatch"
  | "clock_skew";

/** `path` is empty for the event itself. */
export const issue = (path: string, code: IssueCode, detail: string): Issue => ({
  path,
  code,
  message: path === "" ? `the event ${detail}` : `${path} ${detail}`,
});

const describeValue = (value: unknown): string => {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "float";
  return typeof value;
};

const TYPE_CHECKS: Record<FieldType, (value: unknown) => boolean> = {
  integer: (v) => Number.isSafeInteger(v),
  float: (v) => typeof v === "number" && Number.isFinite(v),
  string: (v) => typeof v === "string",
  boolean: (v) => typeof v === "boolean",
  array: Array.isArray,
  object: isPlainObject,
};

/** Checks one value; `pathOf` builds the field path only when there is something to report. */
type ValueChecker = (value: unknown, pathOf: () => string, out: Issue[]) => void;

/** A checker for one scalar (a field, or an element of an array/object field): type, range, allowed values. */
const scalarChecker = (type: ItemType, spec: FieldSpec): ValueChecker => {
  const isType = TYPE_CHECKS[type];
  const { min_value: min, max_value: max } = spec;
  const allowed = spec.allowed_values && new Set(spec.allowed_values);
  return (value, pathOf, out) => {
    if (!isType(value)) {
      out.push(
        issue(
          pathOf(),
          "invalid_type",
          `must be ${type === "integer" ? "an" : "a"} ${type}, got ${describeValue(value)}`,
        ),
      );
    } else if (typeof value === "number") {
      if (min !== undefined && value < min)
        out.push(issue(pathOf(), "too_small", `must be at least ${min}, got ${value}`));
      else if (max !== undefined && value > max)
        out.push(issue(pathOf(), "too_big", `must be at most ${max}, got ${value}`));
    } else if (allowed !== undefined && !allowed.has(value as string)) {
      out.push(issue(pathOf(), "invalid_value", `must be one of ${[...allowed].join(", ")}`));
    }
  };
};

/** A checker for an array or object field, and for each of its elements when it declares an item_type. */
const containerChecker = (type: "array" | "object", spec: FieldSpec): ValueChecker => {
  const isType = TYPE_CHECKS[type];
  const checkElement = spec.item_type && scalarChecker(spec.item_type, spec);
  return (value, pathOf, out) => {
    if (!isType(value)) {
      out.push(issue(pathOf(), "invalid_type", `must be an ${type}, got ${describeValue(value)}`));
      return;
    }
    if (checkElement === undefined) return;
    for (const [key, element] of Object.entries(value as object)) {
      checkElement(element, () => (type === "array" ? `${pathOf()}[${key}]` : `${pathOf()}.${key}`), out);
    }
  };
};

/** A field spec list turned into a checker once, so that per-event work is a lookup and a few comparisons. */
export type FieldChecker = (data: Record<string, unknown>, path: string, out: Issue[]) => void;

export const compileFieldSpecs = (specs: readonly FieldSpec[]): FieldChecker => {
  const checkers = new Map<string, ValueChecker>(
    specs.map((spec) => [
      spec.field_name,
      spec.field_type === "array" || spec.field_type === "object"
        ? containerChecker(spec.field_type, spec)
        : scalarChecker(spec.field_type, spec),
    ]),
  );
  const required = specs.filter((spec) => spec.required).map((spec) => spec.field_name);
  return (data, path, out) => {
    for (const name of required) {
      if (!Object.hasOwn(data, name))
        out.push(issue(`${path}.${name}`, "required", "is required by the tracking config"));
    }
    for (const name of Object.keys(data)) {
      const check = checkers.get(name);
      if (check === undefined)
        out.push(issue(`${path}.${name}`, "unknown_field", "is not defined by the tracking config"));
      else check(data[name], () => `${path}.${name}`, out);
    }
  };
};
