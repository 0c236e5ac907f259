/**
 * Reading an HTTP answer's body (a fetch Response's stream) without ever buffering more than a
 * bound: the control-plane client refuses an oversized answer (sync/client_body.ts), the provider
 * key check keeps only the start of an error page (watchdogs/provider-probe.ts).
 */

/** What {@link readCapped} read: the bytes, and whether more than the limit arrived. */
export type CappedBody = { bytes: Uint8Array; over: boolean };

/**
 * Read `body` chunk by chunk until it ends or more than `limit` bytes have arrived; then the
 * stream is cancelled and `over` is true (`bytes` then holds what arrived, the chunk that went
 * over included). A null body reads as empty.
 */
export async function readCapped(body: ReadableStream<Uint8Array> | null, limit: number): Promise<CappedBody> {
  if (body === null) return { bytes: new Uint8Array(0), over: false };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let over = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      over = true;
      break;
    }
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return { bytes, over };
}
