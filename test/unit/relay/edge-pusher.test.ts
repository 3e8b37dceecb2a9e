import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { SIGNATURE_HEADER } from "../../../src/core/index.ts";
import { edgePusher } from "../../../src/relay/edge-calls.ts";

/** An edge's push path on a free port, recording what it receives. */
const fakeEdge = async () => {
  const received: { signature: string | undefined; body: string }[] = [];
  const server = createServer(async (request: IncomingMessage, response) => {
    let body = "";
    for await (const chunk of request) body += chunk;
    received.push({ signature: request.headers[SIGNATURE_HEADER] as string | undefined, body });
    response.end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
};

describe("edge pusher", () => {
  it("pushes a tenant's change to every edge in EDGE_PUSH_URLS, each push signed on its own", async () => {
    const edges = [await fakeEdge(), await fakeEdge()];
    const stores = {
      configs: { list: async () => [{ tenant_id: "mymx", scenario_id: "vlog_feed" }] },
      keys: { recordsForEdge: async () => [] },
    };
    const push = edgePusher(
      edges.map((e) => e.url),
      ["s".repeat(40)],
      stores as never,
      pino({ level: "silent" }),
    );
    push("mymx");
    const deadline = Date.now() + 5000;
    while (edges.some((e) => e.received.length === 0) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    for (const edge of edges) {
      expect(edge.received).toHaveLength(1);
      expect(JSON.parse(edge.received[0]?.body ?? "{}")).toMatchObject({ tenant_id: "mymx" });
    }
    expect(edges[0]?.received[0]?.signature).not.toBe(edges[1]?.received[0]?.signature);
    await Promise.all(edges.map((e) => e.close()));
  });

  it("logs a store that cannot be read for a push and goes on (no unhandled rejection)", async () => {
    const lines: { msg: string; tenantId?: string }[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const failing = async () => {
      throw new Error("the store missed its deadline");
    };
    const push = edgePusher(
      ["http://127.0.0.1:9"],
      ["s".repeat(40)],
      { configs: { list: failing }, keys: { recordsForEdge: failing } } as never,
      log,
    );
    push("mymx");
    await vi.waitFor(() =>
      expect(lines).toEqual([
        expect.objectContaining({ tenantId: "mymx", msg: expect.stringMatching(/could not read/) }),
      ]),
    );
  });
});
