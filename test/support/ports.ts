import { createServer } from "node:net";

const listens = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });

/**
 * A TCP port free on 127.0.0.1 now, for a process the test starts itself (a relay, an edge). Drawn
 * from 20000–31999: below Linux's ephemeral range, so no outgoing connection takes it meanwhile, and
 * away from the ports of `npm run dev`, so tests and a running stack never meet.
 */
export const freePort = async (): Promise<number> => {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await listens(port)) return port;
  }
  throw new Error("no free port found in 20000-31999");
};
