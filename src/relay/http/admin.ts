import { timingSafeEqual } from "node:crypto";
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import * as z from "zod";
import {
  ApiError,
  ApiKeyRecord,
  BatchAnswer,
  BehaviorEventInput,
  bearerToken,
  CreateApiKeyRequest,
  configFromTemplate,
  FromTemplateRequest,
  issuesOfZod,
  MAX_EVENTS_PER_BATCH,
  NONCE_HEADER,
  ScenarioId,
  ScenarioType,
  SIGNATURE_HEADER,
  TEMPLATES,
  TenantId,
  TIMESTAMP_HEADER,
  TrackAnswer,
  TrackingConfig,
  TrackingConfigDefinition,
  TrackingConfigUpdate,
  templateFor,
  ValidateAnswer,
} from "../../core/index.ts";
import { type KeyStore, mayManage, type Principal } from "../auth.ts";
import type { CachedConfigSource } from "../config-source.ts";
import type { EdgeCallVerifier } from "../edge-calls.ts";
import type { ChangeLog } from "../store/changes.ts";
import type { ConfigRepository } from "../store/configs.ts";
import type { KeyRepository } from "../store/keys.ts";
import type { RelayEnv } from "./respond.ts";

export interface AdminDeps {
  configs: ConfigRepository;
  keys: KeyRepository;
  changes: ChangeLog;
  keyStore: KeyStore;
  cache: CachedConfigSource;
  adminToken: string | undefined;
  /** Checks the edge's signed feed reads. */
  edgeCalls: EdgeCallVerifier;
  now: () => number;
  /** Called after a tenant's configs or keys changed (pushes them to the edge). */
  changedTenant: (tenantId: string) => void;
  /**
   * Creates a tenant's topics when the admin creates one of its configs, where the relay does not create
   * topics on first write (TOPIC_AUTO_CREATE=false); absent otherwise.
   */
  provisionTopics?: (tenantId: string) => Promise<void>;
}

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});
const problemBody = { description: "A problem (RFC 9457, application/problem+json)" };
const bearer = [{ bearer: [] }];
const TenantScenario = z.object({ tenant_id: TenantId, scenario_id: ScenarioId });
const ConfigList = z.object({ configs: z.array(TrackingConfig), total: z.int() });

/**
 * The event API (served by src/relay/http/behaviors.ts, and by the edge with the same answers) in the
 * same document as the admin API. Documented, not validated here: an event's problems are part of its
 * answer (per event in a batch, warnings beside success), which the ingest pipeline builds.
 */
const documentEventApi = (api: OpenAPIHono<RelayEnv>) => {
  const body = (schema: z.ZodType, description: string) => ({
    content: { "application/json": { schema } },
    description,
  });
  const refusals = {
    400: problemBody,
    401: problemBody,
    403: problemBody,
    413: problemBody,
    415: problemBody,
    429: problemBody,
    503: problemBody,
  };
  const post = (path: string, summary: string, request: z.ZodType, answer: z.ZodType) =>
    api.openAPIRegistry.registerPath({
      method: "post",
      path,
      summary,
      tags: ["events"],
      security: bearer,
      request: { body: body(request, "JSON; gzip with Content-Encoding: gzip") },
      responses: { 200: body(answer, "The answer"), ...refusals },
    });
  post("/api/v1/behaviors/track", "Track one event", BehaviorEventInput, TrackAnswer);
  post(
    "/api/v1/behaviors/track/batch",
    "Track up to 100 events; each is answered on its own",
    z.object({ events: z.array(BehaviorEventInput).min(1).max(MAX_EVENTS_PER_BATCH) }),
    BatchAnswer,
  );
  post(
    "/api/v1/behaviors/validate",
    "Check an event against its tenant's tracking config without storing it",
    BehaviorEventInput,
    ValidateAnswer,
  );
  api.openAPIRegistry.registerPath({
    method: "get",
    path: "/api/v1/behaviors/health",
    summary: "Health and counters",
    tags: ["events"],
    responses: { 200: { description: "status, kafka_available and stats" } },
  });
};

const sameSecret = (given: string, expected: string | undefined): boolean => {
  if (expected === undefined || expected === "") return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

/**
 * The tracking-config admin API of SPEC §5, API keys, and the feed the edge reads configs and keys
 * from. Request and response schemas are the zod schemas of src/core; the OpenAPI document is
 * generated from them.
 */
export const createAdminApi = (deps: AdminDeps) => {
  const api = new OpenAPIHono<RelayEnv>({
    strict: false,
    defaultHook: (result) => {
      if (!result.success) {
        const errors = issuesOfZod(result.error.issues, "the request");
        throw new ApiError(
          "invalid_request",
          `${errors.length} problem${errors.length === 1 ? "" : "s"} with the request`,
          errors,
        );
      }
    },
  });
  api.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });

  const principal = async (c: Context<RelayEnv>): Promise<Principal> => {
    const key = bearerToken(c.req.header("authorization"));
    if (key !== undefined && sameSecret(key, deps.adminToken)) return { kind: "admin" };
    const found = key === undefined ? undefined : await deps.keyStore.principalFor(key);
    if (found === undefined)
      throw new ApiError(
        "unauthenticated",
        "send the admin token or a secret key as Authorization: Bearer <token>",
      );
    return found;
  };
  /** A tenant's topics, provisioned when the caller is the admin (a tenant's key may not create topics). */
  const provisioned = async (c: Context<RelayEnv>, tenantId: string) => {
    if (deps.provisionTopics === undefined || (await principal(c)).kind !== "admin") return;
    await deps.provisionTopics(tenantId);
  };

  const manage = async (c: Context<RelayEnv>, tenantId: string | undefined) => {
    if (!mayManage(await principal(c), tenantId)) {
      throw new ApiError(
        "forbidden",
        tenantId === undefined
          ? "only the admin token may do this"
          : `this key may not manage tenant ${tenantId}`,
      );
    }
  };
  const changed = (config: TrackingConfig) => {
    deps.cache.invalidate(config.tenant_id, config.scenario_id);
    deps.changedTenant(config.tenant_id);
    return config;
  };
  const keyChanged = <T extends { tenant_id: string | null }>(record: T) => {
    if (record.tenant_id !== null) deps.changedTenant(record.tenant_id);
    return record;
  };

  api.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/tracking-configs/templates",
      summary: "List the built-in templates",
      responses: { 200: json(z.object({ templates: z.array(z.any()), total: z.int() }), "The 8 templates") },
    }),
    (c) => c.json({ templates: [...TEMPLATES], total: TEMPLATES.length }, 200),
  );

  api.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/tracking-configs/from-template",
      summary: "Create a tracking config from a template",
      security: bearer,
      request: { body: json(FromTemplateRequest, "Target and template") },
      responses: { 201: json(TrackingConfig, "The new config"), 400: problemBody, 409: problemBody },
    }),
    async (c) => {
      const body = c.req.valid("json");
      await manage(c, body.tenant_id);
      const template = templateFor(body.template_id as ScenarioType);
      if (template === undefined) throw new ApiError("not_found", `no template ${body.template_id}`);
      const {
        is_active: _a,
        version: _v,
        created_at: _c,
        updated_at: _u,
        ...definition
      } = configFromTemplate(template, body, deps.now());
      const created = changed(await deps.configs.create(definition, deps.now()));
      await provisioned(c, created.tenant_id);
      return c.json(created, 201);
    },
  );

  api.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/tracking-configs",
      summary: "Create a custom tracking config",
      security: bearer,
      request: { body: json(TrackingConfigDefinition, "The config") },
      responses: { 201: json(TrackingConfig, "The new config"), 400: problemBody, 409: problemBody },
    }),
    async (c) => {
      const body = c.req.valid("json");
      await manage(c, body.tenant_id);
      const created = changed(await deps.configs.create(body, deps.now()));
      await provisioned(c, created.tenant_id);
      return c.json(created, 201);
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/tracking-configs/{tenant_id}/{scenario_id}",
      summary: "Read a tracking config, or one of its earlier versions",
      security: bearer,
      request: {
        params: TenantScenario,
        query: z.object({ version: z.coerce.number().int().min(1).optional() }),
      },
      responses: { 200: json(TrackingConfig, "The config"), 404: problemBody },
    }),
    async (c) => {
      const { tenant_id, scenario_id } = c.req.valid("param");
      const { version } = c.req.valid("query");
      await manage(c, tenant_id);
      const config =
        version === undefined
          ? await deps.configs.get(tenant_id, scenario_id)
          : await deps.configs.getVersion(tenant_id, scenario_id, version);
      if (config === undefined)
        throw new ApiError("not_found", `no tracking config ${tenant_id}/${scenario_id}`);
      return c.json(config, 200);
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/tracking-configs",
      summary: "List tracking configs",
      security: bearer,
      request: {
        query: z.object({
          tenant_id: TenantId.optional(),
          scenario_type: ScenarioType.optional(),
          include_inactive: z.enum(["true", "false"]).optional(),
        }),
      },
      responses: { 200: json(ConfigList, "Matching configs") },
    }),
    async (c) => {
      const query = c.req.valid("query");
      await manage(c, query.tenant_id);
      const configs = await deps.configs.list({
        ...query,
        include_inactive: query.include_inactive === "true",
      });
      return c.json({ configs, total: configs.length }, 200);
    },
  );

  api.openapi(
    createRoute({
      method: "put",
      path: "/api/v1/tracking-configs/{tenant_id}/{scenario_id}",
      summary: "Update a tracking config (partial; bumps version)",
      security: bearer,
      request: {
        params: TenantScenario,
        body: json(TrackingConfigUpdate, "Fields to change, and the version read"),
      },
      responses: {
        200: json(TrackingConfig, "The new version"),
        400: problemBody,
        404: problemBody,
        409: problemBody,
      },
    }),
    async (c) => {
      const { tenant_id, scenario_id } = c.req.valid("param");
      await manage(c, tenant_id);
      return c.json(
        changed(await deps.configs.update(tenant_id, scenario_id, c.req.valid("json"), deps.now())),
        200,
      );
    },
  );

  api.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/tracking-configs/{tenant_id}/{scenario_id}",
      summary: "Soft-delete a tracking config (is_active=false)",
      security: bearer,
      request: { params: TenantScenario },
      responses: { 200: json(TrackingConfig, "The deactivated config"), 404: problemBody },
    }),
    async (c) => {
      const { tenant_id, scenario_id } = c.req.valid("param");
      await manage(c, tenant_id);
      return c.json(changed(await deps.configs.deactivate(tenant_id, scenario_id, deps.now())), 200);
    },
  );

  api.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/api-keys",
      summary: "Create an API key (shown once)",
      security: bearer,
      request: { body: json(CreateApiKeyRequest, "Kind, tenant, origins") },
      responses: {
        201: json(z.object({ key: z.string(), record: ApiKeyRecord }), "The key, shown only now"),
        400: problemBody,
      },
    }),
    async (c) => {
      await manage(c, undefined);
      const created = await deps.keys.create(c.req.valid("json"), deps.now());
      keyChanged(created.record);
      return c.json(created, 201);
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/api-keys",
      summary: "List API keys (without the keys)",
      security: bearer,
      request: { query: z.object({ tenant_id: TenantId.optional() }) },
      responses: { 200: json(z.object({ keys: z.array(ApiKeyRecord) }), "Key records") },
    }),
    async (c) => {
      await manage(c, undefined);
      return c.json({ keys: await deps.keys.list(c.req.valid("query").tenant_id) }, 200);
    },
  );

  api.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/api-keys/{key_id}",
      summary: "Revoke an API key",
      security: bearer,
      request: { params: z.object({ key_id: z.string().min(1).max(64) }) },
      responses: { 200: json(ApiKeyRecord, "The revoked key"), 404: problemBody },
    }),
    async (c) => {
      await manage(c, undefined);
      return c.json(keyChanged(await deps.keys.revoke(c.req.valid("param").key_id, deps.now())), 200);
    },
  );

  /** Feed reads: signed by the edge (src/core/edge-signing.ts), or by an operator with the admin token. */
  const edge = async (c: Context<RelayEnv>) => {
    const key = bearerToken(c.req.header("authorization"));
    if (key !== undefined && sameSecret(key, deps.adminToken)) return;
    const url = new URL(c.req.url);
    await deps.edgeCalls.verify(
      "feed",
      {
        timestamp: Number(c.req.header(TIMESTAMP_HEADER)),
        nonce: c.req.header(NONCE_HEADER),
        signature: c.req.header(SIGNATURE_HEADER),
      },
      `${url.pathname}${url.search}`,
    );
  };

  api.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/edge/tenants/{tenant_id}",
      summary: "A tenant's active configs and key records, for the edge's cache (ETag, If-None-Match)",
      security: bearer,
      request: { params: z.object({ tenant_id: TenantId }) },
      responses: { 200: json(z.any(), "Configs and key hashes"), 304: { description: "Unchanged" } },
    }),
    async (c) => {
      await edge(c);
      const { tenant_id } = c.req.valid("param");
      const [configs, keys] = await Promise.all([
        deps.configs.list({ tenant_id }),
        deps.keys.recordsForEdge(tenant_id),
      ]);
      const body = JSON.stringify({ tenant_id, configs, keys });
      const etag = `"${(await sha256(body)).slice(0, 32)}"`;
      if (c.req.header("if-none-match") === etag) return c.body(null, 304, { etag });
      return c.body(body, 200, { "content-type": "application/json", etag });
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/edge/keys/{hash}",
      summary: "One key record by the SHA-256 hex of the key, for the edge's cache",
      security: bearer,
      request: { params: z.object({ hash: z.string().regex(/^[0-9a-f]{64}$/) }) },
      responses: { 200: json(z.any(), "The key record"), 404: problemBody },
    }),
    async (c) => {
      await edge(c);
      const record = await deps.keys.recordForEdge(c.req.valid("param").hash);
      if (record === undefined) throw new ApiError("not_found", "no such key");
      return c.json(record, 200);
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/edge/changes",
      summary: "Config and key changes after a sequence number, oldest first",
      security: bearer,
      request: { query: z.object({ since: z.coerce.number().int().min(0).default(0) }) },
      responses: { 200: json(z.any(), "Changes and the sequence number to ask from next") },
    }),
    async (c) => {
      await edge(c);
      const { since } = c.req.valid("query");
      const changes = await deps.changes.since(since);
      return c.json({ changes, next: changes.at(-1)?.seq ?? since }, 200);
    },
  );

  documentEventApi(api);
  api.doc31("/api/v1/openapi.json", {
    openapi: "3.1.0",
    info: { title: "Behaviour-event ingestion API", version: "1" },
  });
  api.get("/api/v1/docs", (c) => c.html(DOCS_PAGE));
  return api;
};

const sha256 = async (text: string) =>
  Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))).toString("hex");

/** A self-contained docs page: it renders /api/v1/openapi.json in the browser, with no assets from elsewhere. */
const DOCS_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>API docs</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
h2{font-size:1.05rem;margin:1.5rem 0 .25rem}code,pre{background:#f4f4f4;border-radius:4px}
pre{padding:.75rem;overflow:auto;font-size:12px}.m{display:inline-block;min-width:4rem;font-weight:700}</style></head>
<body><h1>Behaviour-event ingestion API</h1><p>Raw document: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.
Event API: <code>POST /api/v1/behaviors/track</code>, <code>/track/batch</code>, <code>/validate</code>, <code>GET /api/v1/behaviors/health</code>.</p>
<div id="ops">Loading…</div><script>
fetch('/api/v1/openapi.json').then(r=>r.json()).then(doc=>{const out=[];
for(const [path,ops] of Object.entries(doc.paths))for(const [method,op] of Object.entries(ops)){
const body=op.requestBody?.content?.['application/json']?.schema;
out.push('<h2><span class="m">'+method.toUpperCase()+'</span> <code>'+path+'</code></h2><p>'+(op.summary||'')+'</p>'+
(body?'<details><summary>Request body</summary><pre>'+JSON.stringify(body,null,2).replace(/</g,'&lt;')+'</pre></details>':''))}
document.getElementById('ops').innerHTML=out.join('')});</script></body></html>`;
