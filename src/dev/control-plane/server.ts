/**
 * The reference control plane on a real socket (`startHttpServer` from src/health/server.ts).
 */
import { startHttpServer } from "../../health/server.ts";
import { createReferenceControlPlane, type ReferenceControlPlane, type ReferenceControlPlaneOptions } from "./app.ts";

/** Options of {@link startReferenceControlPlane}: where to listen, plus the control plane's own. */
export type StartReferenceControlPlaneOptions = Omit<ReferenceControlPlaneOptions, "dbPath"> & {
  /** Listen address; use loopback (the API is plain HTTP). Default 127.0.0.1. */
  host?: string | undefined;
  /** 0 (default) picks a free port. */
  port?: number | undefined;
  /** SQLite file or ":memory:" (default). */
  dbPath?: string | undefined;
  /** How long in-flight requests may run after close() (ms); default 1000. */
  closeGraceMs?: number | undefined;
};

/** A listening reference control plane: everything of {@link ReferenceControlPlane} plus its address. */
export type RunningControlPlane = Omit<ReferenceControlPlane, "close"> & {
  /** Base URL without the `/v1` suffix, e.g. `http://127.0.0.1:18800` (what CONTROL_PLANE_URL takes). */
  url: string;
  port: number;
  /** Answer parked long-polls, stop the server (in-flight requests get closeGraceMs), close the database. Idempotent. */
  close(): Promise<void>;
};

/**
 * Start a reference control plane listening on `host:port`.
 * @throws UnavailableError ERR_HTTP_LISTEN if the address cannot be bound; whatever
 *   {@link createReferenceControlPlane} throws (the database is closed again then)
 */
export async function startReferenceControlPlane(o: StartReferenceControlPlaneOptions): Promise<RunningControlPlane> {
  const host = o.host ?? "127.0.0.1";
  const plane = createReferenceControlPlane(o);
  let server;
  try {
    server = await startHttpServer({ app: plane.app, host, port: o.port ?? 0, ...(o.closeGraceMs === undefined ? {} : { closeGraceMs: o.closeGraceMs }) });
  } catch (err) {
    plane.close();
    throw err;
  }
  const listening = server;
  let closing: Promise<void> | undefined;
  return {
    ...plane,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${listening.port}`,
    port: listening.port,
    close: () => {
      closing ??= (async () => {
        plane.interrupt();
        await listening.close();
        plane.close();
      })();
      return closing;
    },
  };
}
