import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
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
  /**
   * The relay and a credential of the tenant (the admin token in development): the page's live view
   * reads `/live` and its quality panel `/quality`, which this server relays from the relay's
   * `…/events/live` and `…/quality`, so the credential never
   * reaches the browser.
   */
  live?: { relay: string; token: string };
}

/** The relay's live view of the tenant, streamed on to the page until either side goes away. */
const relayLive = async (
  live: NonNullable<DemoSettings["live"]>,
  tenant: string,
  req: IncomingMessage,
  res: ServerResponse,
) => {
  const stop = new AbortController();
  req.once("close", () => stop.abort());
  try {
    const upstream = await fetch(`${live.relay}/api/v1/tenants/${tenant}/events/live?last=10`, {
      headers: { authorization: `Bearer ${live.token}` },
      signal: stop.signal,
    });
    res.writeHead(upstream.status, {
      "content-type": upstream.headers.get("content-type") ?? "text/plain",
      "cache-control": "no-store",
    });
    for await (const chunk of upstream.body ?? []) res.write(chunk);
  } catch {
    // The relay went away, or the page did: either way the stream ends; EventSource reconnects.
  }
  res.end();
};

/** The relay's quality report of the tenant for the last hour, passed on as it came. */
const relayQuality = async (live: NonNullable<DemoSettings["live"]>, tenant: string, res: ServerResponse) => {
  try {
    const upstream = await fetch(`${live.relay}/api/v1/tenants/${tenant}/quality?window=1h`, {
      headers: { authorization: `Bearer ${live.token}` },
    });
    res.writeHead(upstream.status, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(await upstream.text());
  } catch {
    res.writeHead(502, { "content-type": "application/json" }).end('{"detail":"the relay is not reachable"}');
  }
};

/** Serves the demo feed page, the bundled browser tracker, the page's settings, its live view and quality. */
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
    live: settings.live !== undefined,
  });
  const files: Record<string, [string, string]> = {
    "/": ["text/html; charset=utf-8", page],
    "/tracker.js": ["text/javascript; charset=utf-8", tracker],
    "/config.json": ["application/json", config],
  };
  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url ?? "/", "http://demo");
    if (pathname === "/live" && settings.live !== undefined) {
      void relayLive(settings.live, settings.tenant, req, res);
      return;
    }
    if (pathname === "/quality" && settings.live !== undefined) {
      void relayQuality(settings.live, settings.tenant, res);
      return;
    }
    const file = files[pathname];
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
