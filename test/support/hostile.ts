import { gzipSync } from "node:zlib";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { EXAMPLE_EVENTS } from "../../src/core/index.ts";

/** One hostile or careless request body, and what must not happen. */
export interface Nasty {
  name: string;
  body: string | Uint8Array;
  contentType?: string;
  contentEncoding?: string;
  /** Harmless when accepted (the odd key is dropped, the value is a valid number). */
  mayBeAccepted?: true;
}

const valid = (tenant: string) => {
  const { event_id: _id, timestamp: _ts, ...event } = { ...EXAMPLE_EVENTS.video_data, tenant_id: tenant };
  return event;
};

/** JSON text of a value nested `depth` deep, which JSON.stringify may not be able to write. */
export const deepJsonText = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

/** Tenant ids aimed at someone else's topic, Kafka's internals, or a look-alike of a real tenant. */
export const HOSTILE_TENANTS = [
  ".",
  "..",
  "__consumer_offsets",
  "__transaction_state",
  "a".repeat(300),
  "mym\u0445", // Cyrillic х
  "MYMX",
  "mymx-rejected",
  "mymx.rejected",
  "mymx/../other",
  "",
  " mymx",
];

/** The corpus of known nasties every ingest endpoint must refuse with a clear 4xx (or accept harmlessly). */
export const nasties = (tenant: string): Nasty[] => {
  const event = valid(tenant);
  const json = JSON.stringify(event);
  const utf8 = new TextEncoder().encode(json.replace("u_10086", "u_XX"));
  const at = utf8.indexOf("X".charCodeAt(0));
  utf8[at] = 0xc3; // a lead byte followed by 'X': not UTF-8
  utf8[at + 1] = 0x28;
  return [
    { name: "malformed JSON", body: '{"tenant_id": mymx}' },
    { name: "truncated JSON", body: json.slice(0, json.length / 2) },
    { name: "empty body", body: "" },
    { name: "JSON null", body: "null" },
    { name: "a JSON array", body: "[1,2,3]" },
    { name: "a JSON string", body: '"hello"' },
    {
      name: "nesting 40 deep in extra_data",
      body: JSON.stringify({ ...event, extra_data: JSON.parse(deepJsonText(40)) }),
    },
    { name: "nesting 100,000 deep", body: deepJsonText(100_000) },
    { name: "a 2 MB string", body: JSON.stringify({ ...event, user_id: "x".repeat(2_000_000) }) },
    { name: "a 40 KB event", body: JSON.stringify({ ...event, extra_data: { blob: "x".repeat(40_000) } }) },
    {
      name: "an array of 200,000 numbers",
      body: JSON.stringify({ ...event, extra_data: { a: Array(200_000).fill(1) } }),
    },
    {
      name: "__proto__ at the top",
      body: json.replace("{", '{"__proto__":{"polluted":true},'),
      mayBeAccepted: true,
    },
    {
      name: "__proto__ in extra_data",
      body: JSON.stringify(event).replace(
        "{",
        '{"extra_data":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}},',
      ),
      mayBeAccepted: true,
    },
    {
      name: "constructor.prototype in context",
      body: json.replace('"context":{', '"context":{"constructor":{"prototype":{"polluted":true}},'),
      mayBeAccepted: true,
    },
    { name: "NaN", body: json.replace('"position":3', '"position":NaN') },
    { name: "Infinity", body: json.replace('"position":3', '"position":Infinity') },
    { name: "1e309", body: json.replace('"position":3', '"position":1e309') },
    {
      name: "-0 and 1e-400",
      body: json.replace('"position":3', '"position":-0').replace('"duration":185', '"duration":1e-400'),
      mayBeAccepted: true,
    },
    { name: "invalid UTF-8", body: utf8 },
    { name: "a lone surrogate", body: json.replace("u_10086", "u_\\ud800") },
    { name: "wrong content type", body: json, contentType: "application/xml" },
    {
      name: "form encoded",
      body: `data=${encodeURIComponent(json)}`,
      contentType: "application/x-www-form-urlencoded",
    },
    {
      name: "gzip bomb (64 MiB of zeros in 64 KB)",
      body: gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 }),
      contentEncoding: "gzip",
    },
    {
      name: "gzip that does not inflate",
      body: Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]),
      contentEncoding: "gzip",
    },
    ...HOSTILE_TENANTS.map((t) => ({
      name: `tenant ${JSON.stringify(t.slice(0, 20))}`,
      body: JSON.stringify({ ...event, tenant_id: t }),
    })),
  ];
};

/** `depth` levels of objects (or arrays) around `leaf`, built without recursion. */
export const nestedValue = (depth: number, leaf: unknown = 1, arrays = false): unknown => {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = arrays ? [value] : { a: value };
  return value;
};

/**
 * Stands for free JSON nested 5,000 levels deep (the case): JSON.stringify of that may overflow
 * the stack, so {@link hostileJson} writes it as text.
 */
export const DEEP_5000: object = Object.freeze({ deep: 5000 });
const DEEP_PLACEHOLDER = "__deep_5000__";

/** JSON text of a value that may hold {@link DEEP_5000}. */
export const hostileJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (v === DEEP_5000 ? DEEP_PLACEHOLDER : v)).replaceAll(
    `"${DEEP_PLACEHOLDER}"`,
    deepJsonText(5000),
  );

/** Text that trips up what handles it: NUL, bidi overrides, emoji, a BOM, lone surrogates, Chinese. */
export const ODD_TEXT = [
  "\u0000",
  "a\u0000b",
  "\u202Eevil\u202C",
  "😀🎬",
  "\uFEFFbom",
  "\u200B",
  "上海市",
  "\uD800",
  "x\uDC00y",
] as const;

/**
 * Free-form values (extra_data, custom_data, unknown keys) built to break what reads them: nesting
 * around and far beyond the depth limit (the 5,000 levels that once became a 500), objects with keys
 * around the key limit, keys and strings around their length limits, numbers at and past 2^53, odd
 * Unicode, and ordinary JSON.
 */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc
    .tuple(fc.integer({ min: 1, max: 60 }), fc.boolean())
    .map(([depth, arrays]) => nestedValue(depth, "x", arrays)),
  fc.constant(DEEP_5000),
  fc
    .integer({ min: 250, max: 262 })
    .map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))),
  fc.integer({ min: 250, max: 262 }).map((n) => ({ ["k".repeat(n)]: 1 })),
  fc.integer({ min: 32_760, max: 32_780 }).map((n) => "x".repeat(n)),
  fc.constantFrom(2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 2 ** 60, 1e300),
  fc.constantFrom(...ODD_TEXT),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Where in an event a hostile value goes: every free-form place, and a string field for text. */
export const HOSTILE_PLACES = ["extra_data", "custom_data", "unknown_key", "context_key", "user_id"] as const;
export type HostilePlace = (typeof HOSTILE_PLACES)[number];

/** `event` with `value` at `place` (a user_id only takes text; anything else goes to extra_data). */
export const withHostile = (
  event: Record<string, unknown>,
  place: HostilePlace,
  value: unknown,
): Record<string, unknown> => {
  switch (place) {
    case "custom_data":
      return { ...event, scenario_data: { custom_data: { v: value } } };
    case "unknown_key":
      return { ...event, x_hostile: value };
    case "context_key":
      return { ...event, context: { ...(event.context as object), x_hostile: value } };
    case "user_id":
      if (typeof value === "string" && value.length > 0) return { ...event, user_id: value };
      return { ...event, extra_data: { v: value } };
    default:
      return { ...event, extra_data: { v: value } };
  }
};

/** Byte sequences that are not UTF-8: a lead byte without its continuation, 0xFF, an encoded surrogate, an overlong "/". */
export const NOT_UTF8 = [
  [0xc3, 0x28],
  [0xff, 0x41],
  [0xed, 0xa0, 0x80],
  [0xc0, 0xaf],
] as const;

/** Written into a string, then overwritten by {@link breakUtf8}. */
export const BAD_MARK = "ZZBADUTF8ZZ";

/** `bytes` with the first {@link BAD_MARK} starting with `sequence`: the string holding it is no longer UTF-8. */
export const breakUtf8 = (bytes: Uint8Array, sequence: readonly number[]): Uint8Array => {
  const copy = bytes.slice();
  const at = Buffer.from(copy.buffer, copy.byteOffset, copy.byteLength).indexOf(BAD_MARK);
  if (at < 0) throw new Error("no mark to break");
  copy.set(sequence, at);
  return copy;
};

/**
 * A `google.protobuf.Struct` nested `depth` levels (`{"a": {"a": … 1}}`) as bytes, built level by level:
 * encoding such a message through protobuf-es recurses once per level.
 */
export const deepStructBytes = (depth: number): Uint8Array => {
  let value = new BinaryWriter().tag(2, WireType.Bit64).double(1).finish(); // Value.number_value
  let struct = new Uint8Array();
  for (let i = 0; i < depth; i++) {
    const entry = new BinaryWriter().tag(1, WireType.LengthDelimited).string("a");
    entry.tag(2, WireType.LengthDelimited).bytes(value);
    struct = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(entry.finish()).finish();
    value = new BinaryWriter().tag(5, WireType.LengthDelimited).bytes(struct).finish(); // Value.struct_value
  }
  return struct;
};

/** `event` with `fieldNumber` appended as length-delimited `bytes` (a message field merges in). */
export const withField = (event: Uint8Array, fieldNumber: number, bytes: Uint8Array): Uint8Array => {
  const field = new BinaryWriter().tag(fieldNumber, WireType.LengthDelimited).bytes(bytes).finish();
  const out = new Uint8Array(event.length + field.length);
  out.set(event);
  out.set(field, event.length);
  return out;
};

/** A TrackEventsRequest (or a TrackEventRequest, one event) of events given as their bytes. */
export const eventsRequest = (events: readonly Uint8Array[]): Uint8Array => {
  const writer = new BinaryWriter();
  for (const event of events) writer.tag(1, WireType.LengthDelimited).bytes(event);
  return writer.finish();
};
