import { adminAccess } from "./access.ts";
import type { AdminDeps } from "./admin-deps.ts";
import type { RelayApi } from "./openapi.ts";
import { registerConfigRoutes } from "./routes/configs.ts";
import { registerEdgeFeedRoutes } from "./routes/edge-feed.ts";
import { registerKeyRoutes } from "./routes/keys.ts";
import { registerLiveRoutes } from "./routes/live.ts";
import { registerQualityRoutes } from "./routes/quality.ts";
import { registerTemplateRoutes } from "./routes/templates.ts";

/** The tracking-config admin API, API keys, live views, and the feed the edge reads configs and keys from. */
export const registerAdminRoutes = (api: RelayApi, deps: AdminDeps) => {
  const access = adminAccess(deps);
  registerTemplateRoutes(api);
  registerConfigRoutes(api, deps, access);
  registerKeyRoutes(api, deps, access);
  registerLiveRoutes(api, deps, access);
  registerQualityRoutes(api, deps, access);
  registerEdgeFeedRoutes(api, deps, access);
};
