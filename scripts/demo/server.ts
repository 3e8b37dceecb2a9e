import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { bundleTracker } from "../lib/tracker-bundle.ts";

export interface DemoSettings {
  port: number;
  /** The edge the page sends to, as the browser reaches it. */
  edge: string;
  /** A publishable key whose allowed origins include this page's origin. */
  key: string;
  tenant: string;
  scenario: string;
}

/** Serves the demo feed page, the bundled browser tracker and the page's settings. */
export const startDemoPage = async (settings: DemoSettings) => {
  const [page, tracker] = await Promise.all([
    readFile(join(import.meta.dirname, "index.html"), "utf8"),
    bundleTracker(),
  ]);
  const config = JSON.stringify({
    edge: settings.edge,
    key: settings.key,
    tenant: settings.tenant,
    scenario: settings.scenario,
  });
  const files: Record<string, [string, string]> = {
    "/": ["text/html; charset=utf-8", page],
    "/tracker.js": ["text/javascript; charset=utf-8", tracker],
    "/config.json": ["application/json", config],
  };
  const server = createServer((req, res) => {
    const file = files[new URL(req.url ?? "/", "http://demo").pathname];
    if (file === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": file[0], "cache-control": "no-store" }).end(file[1]);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(settings.port, "127.0.0.1", resolve);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};
