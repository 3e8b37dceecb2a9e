// The edge's floors in workerd, bundled as a Worker (bench/efficiency.ts runs it in Miniflare beside the
// edge's measurement): Hono answering a constant after parsing the JSON body (`/track`), and the same
// handing each call on with one `fetch` to `UPSTREAM` (`/forward`), the hop every edge call makes to
// the relay.
import { Hono } from "hono";

const answer = { success: true, event_id: "01JBENCH0000000000000000", message: "Event tracked successfully" };
const app = new Hono<{ Bindings: { UPSTREAM: string } }>();
app.post("/track", async (c) => {
  await c.req.json();
  return c.json(answer);
});
app.post("/forward", async (c) => {
  const body = await c.req.json();
  const upstream = await fetch(c.env.UPSTREAM, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ events: [body] }),
  });
  return c.json(await upstream.json());
});
// biome-ignore lint/style/noDefaultExport: a Worker module is its default export
export default app;
