/**
 * Calendar arithmetic for memory decay, pure. Days are "day numbers": whole days since
 * 1970-01-01 of a calendar date (no time zone once the date is known). ISO weeks follow
 * ISO 8601: weeks start on Monday and week 1 is the week holding the year's first Thursday,
 * so 2026-12-31 and 2027-01-01 both belong to 2026-W53.
 */

const DAY_MS = 86_400_000;

/** An ISO 8601 week: `year` is the ISO week-numbering year (may differ from the calendar year). */
export type IsoWeek = { year: number; week: number };

/** Day number of a calendar date (`month` 1-12), or undefined when the date does not exist. */
export function dayNumber(year: number, month: number, day: number): number | undefined {
  const ms = Date.UTC(year, month - 1, day);
  const d = new Date(ms);
  // Date.UTC rolls invalid days over (Feb 30 → Mar 2) and maps years 0-99 to 1900-1999.
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return undefined;
  return Math.round(ms / DAY_MS);
}

/** Day number of `YYYY-MM-DD`, or undefined when malformed or not a real date (2026-02-30). */
export function parseDate(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return undefined;
  return dayNumber(Number(m[1]), Number(m[2]), Number(m[3]));
}

/** `YYYY-MM-DD` of a day number. */
export function formatDate(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** ISO weekday, Monday 0 ... Sunday 6 (1970-01-01 was a Thursday). */
function isoWeekday(day: number): number {
  return (((day + 3) % 7) + 7) % 7;
}

/** The ISO week a day belongs to. */
export function isoWeekOf(day: number): IsoWeek {
  const thursday = day - isoWeekday(day) + 3;
  const year = new Date(thursday * DAY_MS).getUTCFullYear();
  const jan1 = dayNumber(year, 1, 1)!;
  return { year, week: Math.floor((thursday - jan1) / 7) + 1 };
}

/** Number of ISO weeks in an ISO year (52 or 53): the week of 28 December. */
export function weeksInIsoYear(year: number): number {
  return isoWeekOf(dayNumber(year, 12, 28)!).week;
}

/** Day number of the Monday of an ISO week (week 1 holds 4 January). */
export function isoWeekMonday(w: IsoWeek): number {
  const jan4 = dayNumber(w.year, 1, 4)!;
  return jan4 - isoWeekday(jan4) + 7 * (w.week - 1);
}

/** `YYYY-Www`, e.g. `2026-W05`. */
export function formatIsoWeek(w: IsoWeek): string {
  return `${String(w.year).padStart(4, "0")}-W${String(w.week).padStart(2, "0")}`;
}

/** Parse `YYYY-Www`; undefined when malformed or the year has no such week (W00, W54, W53 of a 52-week year). */
export function parseIsoWeek(text: string): IsoWeek | undefined {
  const m = /^(\d{4})-W(\d{2})$/.exec(text);
  if (!m) return undefined;
  const w = { year: Number(m[1]), week: Number(m[2]) };
  if (w.year < 1000 || w.week < 1 || w.week > weeksInIsoYear(w.year)) return undefined;
  return w;
}

/**
 * Today's day number in an IANA time zone at epoch `nowMs`.
 * @throws RangeError for an unknown time zone
 */
export function todayIn(nowMs: number, timeZone: string): number {
  if (timeZone === "UTC") return Math.floor(nowMs / DAY_MS);
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(nowMs);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return dayNumber(get("year"), get("month"), get("day"))!;
}
