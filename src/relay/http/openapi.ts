import { OpenAPIHono } from "@hono/zod-openapi";
import type * as z from "zod";
import { ApiError, issuesOfZod } from "../../core/index.ts";
import type { HttpEnv } from "../../http/middleware.ts";

/** The relay's HTTP API: every public route is declared with its request and response schemas. */
export type RelayApi = OpenAPIHono<HttpEnv>;

/** A request that does not match its route's schema is a 400 naming each field, like an event's problems. */
export const createRelayApi = (): RelayApi => {
  const api = new OpenAPIHono<HttpEnv>({
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
  return api;
};

export const jsonContent = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});
export const problemBody = { description: "A problem (RFC 9457, application/problem+json)" };
export const bearer = [{ bearer: [] }];
