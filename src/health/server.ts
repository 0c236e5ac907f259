/** Serving a hono app on a real socket with @hono/node-server, with a prompt close. */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { UnavailableError } from "../core/errors.ts";

/** A listening server. */
export type HttpServerHandle = {
  /** The bound port (the kernel's choice when 0 was asked for). */
  port: number;
  /**
   * Stop accepting connections, close idle keep-alive sockets at once, give in-flight requests
   * (long-polls) `closeGraceMs` and then cut their sockets. Resolves when the server is closed.
   * Idempotent.
   */
  close(): Promise<void>;
};

/**
 * Listen on `host:port` (default host in config is 127.0.0.1) and serve `app.fetch`.
 * Resolves once listening; `signal` aborting closes the server (see {@link HttpServerHandle.close}).
 * @param closeGraceMs how long in-flight requests may run after close() (ms); default 1000
 * @throws UnavailableError ERR_HTTP_LISTEN if the address cannot be bound (EADDRINUSE, EACCES, ...)
 */
export async function startHttpServer(opts: {
  app: { fetch: (request: Request) => Response | Promise<Response> };
  host: string;
  port: number;
  signal?: AbortSignal;
  closeGraceMs?: number;
}): Promise<HttpServerHandle> {
  // overrideGlobalObjects: false keeps the global Request/Response untouched for the rest of the daemon.
  const server = createAdaptorServer({ fetch: opts.app.fetch, hostname: opts.host, overrideGlobalObjects: false }) as Server;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new UnavailableError("ERR_HTTP_LISTEN", `cannot listen on ${opts.host}:${opts.port}: ${err.code ?? err.message}`, { cause: err }));
    };
    server.once("error", onError);
    server.listen(opts.port, opts.host, () => {
      server.off("error", onError);
      resolve();
    });
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      opts.signal?.removeEventListener("abort", onAbort);
      const cut = setTimeout(() => server.closeAllConnections(), opts.closeGraceMs ?? 1000);
      cut.unref();
      server.close(() => {
        clearTimeout(cut);
        resolve();
      });
      server.closeIdleConnections();
    });
    return closing;
  };
  const onAbort = () => void close();
  if (opts.signal?.aborted) void close();
  else opts.signal?.addEventListener("abort", onAbort, { once: true });

  return { port: (server.address() as AddressInfo).port, close };
}
