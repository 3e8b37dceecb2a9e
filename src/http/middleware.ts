import type { Context, Env, MiddlewareHandler } from "hono";
import { BodyBudget, type BodyTab } from "../core/index.ts";

/** What the edge's and the relay's middleware give each request: its id, and its share of the body budget. */
export type HttpEnv = { Variables: { requestId: string; bodyTab: BodyTab } };

/** Each request's share of the process's (or isolate's) body budget, for the routes that read bodies. */
export const bodyBudget = (maxBytes: number): MiddlewareHandler<HttpEnv> => {
  const budget = new BodyBudget(maxBytes);
  return (c, next) =>
    budget.during((tab) => {
      c.set("bodyTab", tab);
      return next();
    });
};

/**
 * Times each request and hands `record` the matched route's pattern, never the path itself: bounded
 * labels, and no ids in them.
 */
export const requestTiming =
  <E extends Env>(record: (c: Context<E>, route: string, seconds: number) => void): MiddlewareHandler<E> =>
  async (c, next) => {
    const started = performance.now();
    await next();
    record(c, c.req.routePath === "/*" ? "unmatched" : c.req.routePath, (performance.now() - started) / 1000);
  };
