import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { ApiKeyRecord, CreateApiKeyRequest, TenantId } from "../../../core/index.ts";
import type { AdminAccess } from "../access.ts";
import type { AdminDeps } from "../admin-deps.ts";
import { bearer, jsonContent, problemBody, type RelayApi } from "../openapi.ts";

const tags = ["API keys"];

/** Create, list and revoke API keys (the admin token only); each change reaches the relays and the edge. */
export const registerKeyRoutes = (api: RelayApi, deps: AdminDeps, { manage }: AdminAccess) => {
  const keyChanged = async <T extends { tenant_id: string | null }>(record: T) => {
    await deps.changedTenant(record.tenant_id);
    return record;
  };

  api.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/api-keys",
      summary: "Create an API key (shown once)",
      tags,
      security: bearer,
      request: { body: jsonContent(CreateApiKeyRequest, "Kind, tenant, origins") },
      responses: {
        201: jsonContent(z.object({ key: z.string(), record: ApiKeyRecord }), "The key, shown only now"),
        400: problemBody,
      },
    }),
    async (c) => {
      await manage(c, undefined);
      const created = await deps.keys.create(c.req.valid("json"), deps.now());
      await keyChanged(created.record);
      return c.json(created, 201);
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/api-keys",
      summary: "List API keys (without the keys)",
      tags,
      security: bearer,
      request: { query: z.object({ tenant_id: TenantId.optional() }) },
      responses: { 200: jsonContent(z.object({ keys: z.array(ApiKeyRecord) }), "Key records") },
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
      tags,
      security: bearer,
      request: { params: z.object({ key_id: z.string().min(1).max(64) }) },
      responses: { 200: jsonContent(ApiKeyRecord, "The revoked key"), 404: problemBody },
    }),
    async (c) => {
      await manage(c, undefined);
      return c.json(await keyChanged(await deps.keys.revoke(c.req.valid("param").key_id, deps.now())), 200);
    },
  );
};
