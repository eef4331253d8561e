// The activity service's shapes (through the gateway) and small helpers shared by the screens.
import type { Schema } from "../../api/types";
import type { TFunction } from "i18next";

export type RecordKind = "telemetry" | "license" | "session";

export type ActivityRecord = Schema<"activity__RecordOut">;

export type RecordPage = Schema<"activity__RecordPage">;

export type Terminal = Schema<"activity__TerminalOut">;

const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** A Date as the value of an <input type="datetime-local"> (local time, minutes). */
export function toLocalInput(date: Date): string {
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** The value of a datetime-local input (local time) as an ISO instant; null if empty or invalid. */
export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export function formatTime(iso: string, language: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(language, { dateStyle: "short", timeStyle: "medium" }).format(date);
}

export function actionLabel(t: TFunction<"activity">, action: string): string {
  const labels = t("actions", { returnObjects: true }) as Record<string, string>;
  return labels[action] ?? action;
}

export function deviceText(device: { maker?: unknown; model?: unknown } | null): string | null {
  if (!device) return null;
  const text = [device.maker, device.model].filter((part) => typeof part === "string" && part).join(" ");
  return text || null;
}

/** The slug of a problem+json `type` (`urn:partnerapp:problem:<slug>`, or a URL's last segment). */
export function problemSlug(type: string | undefined): string | undefined {
  return type?.split(/[/:]/).filter(Boolean).pop();
}

/** The time of day only (the date is the page's). */
export function formatClock(iso: string | null | undefined, language: string): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(language, { timeStyle: "medium" }).format(date);
}

/** A span of seconds in words' place: "45 min", "2 h 05 min". */
export function formatDuration(seconds: number): string {
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** Worked time as h:mm (the record's usual form). */
export function formatHm(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")}`;
}

/** Today (or `date`) as YYYY-MM-DD in the browser's time zone. */
export function localDay(date = new Date()): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** The browser's IANA time zone: the API's days are then the user's days. */
export function timeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "Europe/Madrid";
}
