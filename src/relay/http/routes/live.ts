import { createRoute } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import * as z from "zod";
import { ApiError, TenantId } from "../../../core/index.ts";
import { toLiveEvent } from "../../../kafka/tail.ts";
import type { ConfigSource } from "../../config-source.ts";
import type { LiveStreams } from "../../live.ts";
import type { AdminAccess } from "../access.ts";
import { bearer, problemBody, type RelayApi } from "../openapi.ts";

/** A live view ends after this long; EventSource clients reconnect by themselves. */
const MAX_STREAM_MS = 10 * 60_000;
/** When a refused view may be asked for again: a view ends when its watcher leaves, seconds later at most. */
const LIVE_RETRY_SECONDS = 5;
/** A comment this often keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

/** `GET …/events/live`: a tenant's events as they land in Kafka, as Server-Sent Events. */
export const registerLiveRoutes = (
  api: RelayApi,
  deps: { live: LiveStreams; directory: ConfigSource },
  access: AdminAccess,
) => {
  api.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/tenants/{tenant_id}/events/live",
      summary: "Watch a tenant's events land in Kafka (Server-Sent Events)",
      description:
        "The last `last` events, then each new one as it lands: `accepted` events with their warnings against the tenant's current config and, with `rejected=true`, `rejected` ones with their reason and errors. Each `data` is one JSON object. At most LIVE_EVENTS_PER_SECOND (50) events a second are sent; a `skipped` event (`{count}`) before the next one says how many were left out. A `failed` event (`{message}`) says why the stream ends when Kafka cannot be read. The stream ends after 10 minutes; EventSource reconnects.",
      tags: ["admin"],
      security: bearer,
      request: {
        params: z.object({ tenant_id: TenantId }),
        query: z.object({
          rejected: z.enum(["true", "false"]).default("true"),
          last: z.coerce.number().int().min(0).max(100).default(20),
        }),
      },
      responses: {
        200: {
          description: "Server-Sent Events: `accepted` and `rejected`, each with one JSON object",
          content: { "text/event-stream": { schema: z.string() } },
        },
        401: problemBody,
        403: problemBody,
        429: problemBody,
      },
    }),
    async (c) => {
      const { tenant_id } = c.req.valid("param");
      const query = c.req.valid("query");
      await access.manage(c, tenant_id);
      // Everything that lands from the request on is new: none is missed while the view starts.
      const since = Date.now();
      const stop = new AbortController();
      const records = deps.live.open(
        tenant_id,
        { rejected: query.rejected === "true", last: query.last, since },
        stop.signal,
      );
      if (records === "tenant_full") {
        throw new ApiError(
          "rate_limited",
          `tenant ${tenant_id} has as many live views open on this relay as it may (LIVE_STREAMS_PER_TENANT); close one`,
          [],
          LIVE_RETRY_SECONDS,
        );
      }
      if (records === "relay_full") {
        throw new ApiError(
          "overloaded",
          "this relay serves as many live views as it allows; try again later",
          [],
          LIVE_RETRY_SECONDS,
        );
      }
      return streamSSE(c, async (sse) => {
        sse.onAbort(() => stop.abort());
        const ends = setTimeout(() => stop.abort(), MAX_STREAM_MS);
        const keepalive = setInterval(
          () => void sse.write(": keepalive\n\n").catch(() => stop.abort()),
          KEEPALIVE_MS,
        );
        try {
          await sse.writeSSE({ event: "ready", data: JSON.stringify({ tenant_id }) });
          for await (const record of records) {
            if ("skipped" in record) {
              await sse.writeSSE({ event: "skipped", data: JSON.stringify({ count: record.skipped }) });
              continue;
            }
            const live = await toLiveEvent(record, (scenario) => deps.directory.get(tenant_id, scenario));
            await sse.writeSSE({
              event: live.kind,
              id: `${live.topic}/${live.partition}/${live.offset}`,
              data: JSON.stringify(live),
            });
          }
        } catch (error) {
          // Kafka could not be read (unreachable, not authorised): the watcher is told why before the
          // stream ends, rather than seeing it end in silence; EventSource then reconnects.
          if (!stop.signal.aborted) {
            await sse
              .writeSSE({
                event: "failed",
                data: JSON.stringify({ message: `reading Kafka failed: ${(error as Error).message}` }),
              })
              .catch(() => undefined);
          }
        } finally {
          clearTimeout(ends);
          clearInterval(keepalive);
          stop.abort();
        }
      });
    },
  );
};
