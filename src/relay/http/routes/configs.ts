import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import * as z from "zod";
import {
  ApiError,
  configFromTemplate,
  FromTemplateRequest,
  ScenarioId,
  ScenarioType,
  TenantId,
  TrackingConfig,
  TrackingConfigDefinition,
  TrackingConfigUpdate,
  templateFor,
} from "../../../core/index.ts";
import type { HttpEnv } from "../../../http/middleware.ts";
import type { AdminAccess } from "../access.ts";
import type { AdminDeps } from "../admin-deps.ts";
import { bearer, jsonContent, problemBody, type RelayApi } from "../openapi.ts";

const TenantScenario = z.object({ tenant_id: TenantId, scenario_id: ScenarioId });
const ConfigList = z.object({ configs: z.array(TrackingConfig), total: z.int() });
const tags = ["tracking configs"];

/** Create, read, list, update and soft-delete tracking configs; each change reaches the edge. */
export const registerConfigRoutes = (api: RelayApi, deps: AdminDeps, { principal, manage }: AdminAccess) => {
  const changed = async (config: TrackingConfig) => {
    await deps.changedTenant(config.tenant_id);
    return config;
  };
  /** A new config's topics, provisioned when the caller is the admin (a tenant's key may not create topics). */
  const created = async (c: Context<HttpEnv>, config: TrackingConfig) => {
    await changed(config);
    if (deps.provisionTopics !== undefined && (await principal(c)).kind === "admin") {
      await deps.provisionTopics(config.tenant_id);
    }
    return c.json(config, 201);
  };

  /** The two ways to create a config differ only in their path and body. */
  const creation = <Body extends ReturnType<typeof jsonContent>>(path: string, summary: string, body: Body) =>
    createRoute({
      method: "post",
      path,
      summary,
      tags,
      security: bearer,
      request: { body },
      responses: { 201: jsonContent(TrackingConfig, "The new config"), 400: problemBody, 409: problemBody },
    });

  api.openapi(
    creation(
      "/api/v1/tracking-configs/from-template",
      "Create a tracking config from a template",
      jsonContent(FromTemplateRequest, "Target and template"),
    ),
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
      return created(c, await deps.configs.create(definition, deps.now()));
    },
  );

  api.openapi(
    creation(
      "/api/v1/tracking-configs",
      "Create a custom tracking config",
      jsonContent(TrackingConfigDefinition, "The config"),
    ),
    async (c) => {
      const body = c.req.valid("json");
      await manage(c, body.tenant_id);
      return created(c, await deps.configs.create(body, deps.now()));
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/tracking-configs/{tenant_id}/{scenario_id}",
      summary: "Read a tracking config, or one of its earlier versions",
      tags,
      security: bearer,
      request: {
        params: TenantScenario,
        query: z.object({ version: z.coerce.number().int().min(1).optional() }),
      },
      responses: { 200: jsonContent(TrackingConfig, "The config"), 404: problemBody },
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
      tags,
      security: bearer,
      request: {
        query: z.object({
          tenant_id: TenantId.optional(),
          scenario_type: ScenarioType.optional(),
          include_inactive: z.enum(["true", "false"]).optional(),
        }),
      },
      responses: { 200: jsonContent(ConfigList, "Matching configs") },
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
      tags,
      security: bearer,
      request: {
        params: TenantScenario,
        body: jsonContent(TrackingConfigUpdate, "Fields to change, and the version read"),
      },
      responses: {
        200: jsonContent(TrackingConfig, "The new version"),
        400: problemBody,
        404: problemBody,
        409: problemBody,
      },
    }),
    async (c) => {
      const { tenant_id, scenario_id } = c.req.valid("param");
      await manage(c, tenant_id);
      return c.json(
        await changed(await deps.configs.update(tenant_id, scenario_id, c.req.valid("json"), deps.now())),
        200,
      );
    },
  );

  api.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/tracking-configs/{tenant_id}/{scenario_id}",
      summary: "Soft-delete a tracking config (is_active=false)",
      tags,
      security: bearer,
      request: { params: TenantScenario },
      responses: { 200: jsonContent(TrackingConfig, "The deactivated config"), 404: problemBody },
    }),
    async (c) => {
      const { tenant_id, scenario_id } = c.req.valid("param");
      await manage(c, tenant_id);
      return c.json(await changed(await deps.configs.deactivate(tenant_id, scenario_id, deps.now())), 200);
    },
  );
};
