import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { swaggerUI } from "@hono/swagger-ui";
import type { RelayApi } from "../openapi.ts";

const OPENAPI_PATH = "/api/v1/openapi.json";
const ASSETS = "/api/v1/docs/assets";

/** Swagger UI's own files, served by the relay: the docs page needs nothing from the internet. */
const swaggerDist = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
const ASSET_TYPES = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
} as const;

/** The OpenAPI 3.1 document of every public route, and Swagger UI (with "Try it out") over it. */
export const registerDocRoutes = (api: RelayApi) => {
  api.doc31(OPENAPI_PATH, {
    openapi: "3.1.0",
    info: {
      title: "Behaviour-event ingestion API",
      version: "1",
      description:
        "Events (track, batch, validate, health), tracking configs and API keys. Authenticate with " +
        "`Authorization: Bearer <key>`; errors are application/problem+json with a code per field.",
    },
  });
  api.get(
    "/api/v1/docs",
    swaggerUI({
      url: OPENAPI_PATH,
      baseUrl: ASSETS,
      title: "Behaviour-event ingestion API",
      // Swagger UI would otherwise send the document to validator.swagger.io for a badge.
      validatorUrl: "none",
      persistAuthorization: true,
    }),
  );
  const loaded = new Map<string, Promise<Buffer>>();
  api.get(`${ASSETS}/swagger-ui-dist/:file`, async (c) => {
    const file = c.req.param("file");
    if (!Object.hasOwn(ASSET_TYPES, file)) return c.notFound();
    let bytes = loaded.get(file);
    if (bytes === undefined) {
      bytes = readFile(join(swaggerDist, file));
      loaded.set(file, bytes);
      // A failed read is not kept: the next request tries again (and this one answers 500).
      bytes.catch(() => loaded.delete(file));
    }
    return c.body(new Uint8Array(await bytes), 200, {
      "content-type": ASSET_TYPES[file as keyof typeof ASSET_TYPES],
      "cache-control": "public, max-age=86400",
    });
  });
};
