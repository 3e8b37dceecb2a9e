import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { TEMPLATES, Template } from "../../../core/index.ts";
import { jsonContent, type RelayApi } from "../openapi.ts";

export const registerTemplateRoutes = (api: RelayApi) =>
  api.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/tracking-configs/templates",
      summary: "List the built-in templates",
      tags: ["tracking configs"],
      responses: {
        200: jsonContent(z.object({ templates: z.array(Template), total: z.int() }), "The 8 templates"),
      },
    }),
    (c) => c.json({ templates: [...TEMPLATES], total: TEMPLATES.length }, 200),
  );
