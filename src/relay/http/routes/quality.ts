import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import {
  hourOf,
  QUALITY_WINDOWS,
  QualityReport,
  type QualityWindow,
  qualityReportOf,
  TenantId,
  windowStart,
} from "../../../core/index.ts";
import type { QualityRepository } from "../../store/quality.ts";
import type { AdminAccess } from "../access.ts";
import { bearer, problemBody, type RelayApi } from "../openapi.ts";

const WINDOWS = Object.keys(QUALITY_WINDOWS) as [QualityWindow, ...QualityWindow[]];

/** `GET …/quality`: a tenant's pass, warning and refusal rates, its worst fields and its four figures. */
export const registerQualityRoutes = (
  api: RelayApi,
  deps: { quality: QualityRepository; now: () => number },
  access: AdminAccess,
) => {
  api.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/tenants/{tenant_id}/quality",
      summary: "A tenant's data quality over a window",
      description:
        "Counted by the edge and the relay as they decide, and by the auditor as it re-checks the topic, in hourly aggregates shared by every relay: a window covers the hours that overlap it (for `1h`, the hour under way and the one before). Counts reach the aggregates within a few seconds (`QUALITY_FLUSH_MS`).",
      tags: ["admin"],
      security: bearer,
      request: {
        params: z.object({ tenant_id: TenantId }),
        query: z.object({ window: z.enum(WINDOWS).default("24h") }),
      },
      responses: {
        200: { description: "The report", content: { "application/json": { schema: QualityReport } } },
        401: problemBody,
        403: problemBody,
        503: problemBody,
      },
    }),
    async (c) => {
      const { tenant_id } = c.req.valid("param");
      const { window } = c.req.valid("query");
      await access.manage(c, tenant_id);
      const now = deps.now();
      const { cells, issues } = await deps.quality.read(tenant_id, windowStart(window, now), hourOf(now));
      return c.json(qualityReportOf({ tenantId: tenant_id, window, now, cells, issues }), 200);
    },
  );
};
