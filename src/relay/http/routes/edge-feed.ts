import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import * as z from "zod";
import {
  ApiError,
  NONCE_HEADER,
  SIGNATURE_HEADER,
  TenantDocument,
  TenantId,
  TenantKey,
  TIMESTAMP_HEADER,
} from "../../../core/index.ts";
import type { HttpEnv } from "../../../http/middleware.ts";
import { Change } from "../../store/changes.ts";
import type { AdminAccess } from "../access.ts";
import type { AdminDeps } from "../admin-deps.ts";
import { jsonContent, problemBody, type RelayApi } from "../openapi.ts";

const Changes = z.object({
  changes: z.array(Change),
  next: z.int().describe("The sequence number to ask from next"),
});

const sha256 = async (text: string) =>
  Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))).toString("hex");

/**
 * The feed the edge fills its cache from (docs/edge.md). Internal: left out of the public OpenAPI
 * document (`hide`), and read only with the edge's signature or the admin token.
 */
export const registerEdgeFeedRoutes = (api: RelayApi, deps: AdminDeps, { isAdminToken }: AdminAccess) => {
  const edge = async (c: Context<HttpEnv>) => {
    if (isAdminToken(c)) return;
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
      hide: true,
      request: { params: z.object({ tenant_id: TenantId }) },
      responses: {
        200: jsonContent(TenantDocument, "Configs and key hashes"),
        304: { description: "Unchanged" },
      },
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
      hide: true,
      request: { params: z.object({ hash: z.string().regex(/^[0-9a-f]{64}$/) }) },
      responses: { 200: jsonContent(TenantKey, "The key record"), 404: problemBody },
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
      hide: true,
      request: { query: z.object({ since: z.coerce.number().int().min(0).default(0) }) },
      responses: { 200: jsonContent(Changes, "Changes and the sequence number to ask from next") },
    }),
    async (c) => {
      await edge(c);
      const { since } = c.req.valid("query");
      const changes = await deps.changes.since(since);
      return c.json({ changes, next: changes.at(-1)?.seq ?? since }, 200);
    },
  );
};
