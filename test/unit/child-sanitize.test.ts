/** sanitizeLine: pure. ANSI stripped, secrets replaced, length capped. */
import { describe, expect, it } from "vitest";
import { sanitizeLine } from "../../src/supervisor/child.ts";

const KEY = "sk-moon-0123456789abcdef";
const TOKEN = "gw-token-ZYXWVUTSRQ";

describe("sanitizeLine", () => {
  it.each([
    ["plain text is unchanged", "gateway listening on 127.0.0.1:18789", [], "gateway listening on 127.0.0.1:18789"],
    ["colour codes are stripped", "\u001b[32minfo\u001b[39m \u001b[1;31mready\u001b[0m", [], "info ready"],
    ["cursor codes are stripped", "\u001b[2Kprogress \u001b[1A", [], "progress "],
    ["a secret is redacted", `using key ${KEY} for moonshot`, [KEY], "using key [redacted] for moonshot"],
    ["every occurrence is redacted", `${TOKEN}:${TOKEN}`, [TOKEN], "[redacted]:[redacted]"],
    ["several secrets", `a=${KEY} b=${TOKEN}`, [KEY, TOKEN], "a=[redacted] b=[redacted]"],
    ["a secret split by colour codes is still redacted", `key \u001b[33m${KEY.slice(0, 6)}\u001b[0m${KEY.slice(6)}`, [KEY], "key [redacted]"],
    ["short values are not treated as secrets (would shred normal text)", "the cat sat", ["cat"], "the cat sat"],
    ["empty secret list", `key ${KEY}`, [], `key ${KEY}`],
  ] as [string, string, string[], string][])("%s", (_name, line, secrets, expected) => {
    expect(sanitizeLine(line, secrets)).toBe(expected);
  });

  it("caps a long line at 8192 chars and says how much was cut", () => {
    const out = sanitizeLine("x".repeat(10_000), []);
    expect(out.startsWith("x".repeat(8192))).toBe(true);
    expect(out.slice(8192)).toBe("… [1808 more chars]");
  });

  it("keeps a line of exactly 8192 chars whole", () => {
    expect(sanitizeLine("y".repeat(8192), [])).toBe("y".repeat(8192));
  });

  it("redacts before capping, so no secret survives at the cut", () => {
    const line = `${"a".repeat(8180)}${KEY}${"b".repeat(100)}`;
    const out = sanitizeLine(line, [KEY]);
    expect(out).not.toContain(KEY.slice(0, 12));
    expect(out.startsWith(`${"a".repeat(8180)}[redacted]`)).toBe(true);
  });
});
