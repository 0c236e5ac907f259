/** Table-driven: a lease's time-to-live from what the answer said (src/sync/lease-clock.ts). */
import { expect, it } from "vitest";
import { DATE_HEADER_RESOLUTION_MS, leaseTtl, parseHttpDate } from "../../src/sync/lease-clock.ts";

const SERVER_NOW = Date.UTC(2026, 10, 29, 12, 0, 0);
const expires = new Date(SERVER_NOW + 60_000).toISOString();
const HOST_AHEAD = SERVER_NOW + 10 * 60_000;

it.each([
  { name: "the server's TTL wins over everything", lease: { leaseExpiresAt: expires, leaseTtlMs: 45_000 }, date: SERVER_NOW, host: HOST_AHEAD, want: { ttlMs: 45_000, source: "server" } },
  { name: "else the Date header: a host clock outside its second is ignored (end of the second)", lease: { leaseExpiresAt: expires }, date: SERVER_NOW, host: HOST_AHEAD, want: { ttlMs: 60_000 - DATE_HEADER_RESOLUTION_MS, source: "date-header" } },
  { name: "else the Date header: behind as well", lease: { leaseExpiresAt: expires }, date: SERVER_NOW, host: SERVER_NOW - 600_000, want: { ttlMs: 60_000 - DATE_HEADER_RESOLUTION_MS, source: "date-header" } },
  { name: "else the Date header: a host clock inside its second is finer", lease: { leaseExpiresAt: expires }, date: SERVER_NOW, host: SERVER_NOW + 250, want: { ttlMs: 59_750, source: "date-header" } },
  { name: "else the host clock (skew counts)", lease: { leaseExpiresAt: expires }, date: null, host: HOST_AHEAD, want: { ttlMs: 0, source: "host-clock" } },
  { name: "never negative", lease: { leaseExpiresAt: expires, leaseTtlMs: -5 }, date: null, host: SERVER_NOW, want: { ttlMs: 0, source: "server" } },
])("$name", ({ lease, date, host, want }) => {
  expect(leaseTtl(lease, date, host)).toEqual(want);
});

it("reads an HTTP date, or null", () => {
  expect(parseHttpDate("Sun, 29 Nov 2026 12:00:00 GMT")).toBe(SERVER_NOW);
  expect(parseHttpDate("soon")).toBeNull();
  expect(parseHttpDate(null)).toBeNull();
});
