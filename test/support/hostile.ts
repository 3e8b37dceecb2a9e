import { gzipSync } from "node:zlib";
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

const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

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
      body: JSON.stringify({ ...event, extra_data: JSON.parse(deep(40)) }),
    },
    { name: "nesting 100,000 deep", body: deep(100_000) },
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
