// The relay's tenant directory at platform scale: memory per tenant held, and the cost of the ingest
// path's lookups (a key and a config) with 10,000 tenants in memory. Run on its own:
//   sh scripts/with-node.sh node --expose-gc bench/directory.ts
// It writes bench/results/<date>-directory.json; docs/tenant-directory.md quotes the last run.
import { randomBytes } from "node:crypto";
import { pino } from "pino";
import { configFromTemplate, TEMPLATES, type TenantDocument } from "../src/core/index.ts";
import { hashKey } from "../src/relay/auth.ts";
import { TenantDirectory } from "../src/relay/directory.ts";
import type { DirectorySource } from "../src/relay/directory-source.ts";
import { resultsOf } from "./record-results.ts";

const TENANTS = Number(process.env.TENANTS ?? 10_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc");

/** A tenant as a platform has many: two scenarios' configs (from templates) and three keys. */
const tenant = (i: number): { document: TenantDocument; key: string } => {
  const tenantId = `tenant_${i}`;
  const keys = ["publishable", "secret", "secret"].map((kind) => {
    const text = `sk_${randomBytes(24).toString("base64url")}`;
    return {
      text,
      record: {
        key_id: `key_${i}_${kind}`,
        kind: kind as "publishable" | "secret",
        tenant_id: tenantId,
        name: "key",
        prefix: text.slice(0, 10),
        allowed_origins: kind === "publishable" ? [`https://${tenantId}.example.com`] : [],
        created_at: 0,
        revoked_at: null,
        hash: hashKey(text),
      },
    };
  });
  const configs = [TEMPLATES[0], TEMPLATES[1]].map((template, s) =>
    configFromTemplate(
      template as (typeof TEMPLATES)[number],
      { tenant_id: tenantId, scenario_id: `feed_${s}`, name: "Feed" },
      0,
    ),
  );
  return {
    document: { tenant_id: tenantId, configs, keys: keys.map((k) => k.record) },
    key: keys[1]?.text as string,
  };
};

const tenants = Array.from({ length: TENANTS }, (_, i) => tenant(i));
// As the store hands them over: parsed afresh, so that what the directory keeps is allocated after the
// baseline below (the text stays alive until the measurement, so it is not counted either way).
const stored = JSON.stringify(tenants.map((t) => t.document));
const source: DirectorySource = {
  latestChange: async () => 0,
  changesSince: async () => [],
  all: async () => JSON.parse(stored) as TenantDocument[],
  tenant: async () => {
    throw new Error("not used");
  },
  serviceKeys: async () => [],
  key: async () => undefined,
};

gc();
const before = process.memoryUsage().heapUsed;
const directory = new TenantDirectory(
  source,
  { pollMs: 1000, lookupDeadlineMs: 100 },
  pino({ level: "silent" }),
);
const loadStarted = performance.now();
await directory.sync();
const loadMs = performance.now() - loadStarted;
// The documents as read from the store are garbage once applied; what stays is the directory.
gc();
const bytesPerTenant = (process.memoryUsage().heapUsed - before) / TENANTS;
if (stored.length === 0) throw new Error("unreachable: keeps the stored text alive until here");

const LOOKUPS = 200_000;
const cpuStarted = process.cpuUsage();
for (let i = 0; i < LOOKUPS; i++) {
  const t = tenants[i % TENANTS] as (typeof tenants)[number];
  await directory.principalFor(t.key);
  await directory.get(t.document.tenant_id, "feed_0");
}
const cpu = process.cpuUsage(cpuStarted);
const lookupMicros = (cpu.user + cpu.system) / LOOKUPS;

const result = {
  tenants: TENANTS,
  load_ms: Math.round(loadMs),
  heap_bytes_per_tenant: Math.round(bytesPerTenant),
  heap_mb_total: +((bytesPerTenant * TENANTS) / 1024 / 1024).toFixed(1),
  cpu_us_per_key_and_config_lookup: +lookupMicros.toFixed(2),
};
console.log(JSON.stringify(result, null, 2));
resultsOf("directory")(result);
