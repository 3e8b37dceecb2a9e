// The edge's floor in workerd: Hono answering a constant after parsing the JSON body, bundled as a
// Worker (bench/efficiency.ts runs it in Miniflare beside the edge's measurement).
import { Hono } from "hono";

const answer = { success: true, event_id: "01JBENCH0000000000000000", message: "Event tracked successfully" };
const app = new Hono();
app.post("/track", async (c) => {
  await c.req.json();
  return c.json(answer);
});
// biome-ignore lint/style/noDefaultExport: a Worker module is its default export
export default app;
