// The reports API's shapes (/api/v1/reports/…, see the gateway's OpenAPI `reports__*` schemas)
// and small helpers shared by the section's screens.
import type { Schema } from "../../api/types";


export const INSTANCE_TYPES = ["WDS", "MCRM", "S360", "WTA"] as const;
export const INSTANCE_STATUSES = ["active", "cancellation_requested", "expired"] as const;
export const LICENSE_STATUSES = ["active", "released", "revoked"] as const;
export const WDS_PROFILES = ["essential", "professional", "enterprise"] as const;

export interface InstanceCounts {
  total: number;
  by_type: Record<string, number>;
  wds_by_profile: Record<string, number>;
  by_status: Record<string, number>;
}

export type Summary = Schema<"reports__SummaryOut">;

export type Month = Schema<"reports__MonthOut">;

export type ReportInstance = Schema<"reports__InstanceOut">;

export type InstanceDetail = Schema<"reports__InstanceDetailOut">;

export type ReportLicense = Schema<"reports__LicenseOut">;

export type ActiveService = Schema<"reports__ActiveServiceOut">;

export type Operations = Schema<"reports__OperationsOut">;

export type OperationRow = Schema<"reports__OperationRowOut">;

export interface Company {
  id: string;
  name: string;
}

/** YYYY-MM-DD of a local date. */
export function isoDay(date: Date): string {
  const month = String(date.getMonth() + 1).padStart(2, "0");
  const day = String(date.getDate()).padStart(2, "0");
  return `${date.getFullYear()}-${month}-${day}`;
}

export function daysAgo(days: number): string {
  const date = new Date();
  date.setDate(date.getDate() - days);
  return isoDay(date);
}

export function firstOfMonth(): string {
  const date = new Date();
  date.setDate(1);
  return isoDay(date);
}

/** A date (YYYY-MM-DD) or a timestamp in the user's language; "—" when missing. */
export function formatDate(value: string | null | undefined, language: string, withTime = false): string {
  if (!value) return "—";
  const date = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00`) : new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return new Intl.DateTimeFormat(language, withTime ? { dateStyle: "medium", timeStyle: "short" } : { dateStyle: "medium" }).format(
    date,
  );
}

export function formatMonth(value: string, language: string): string {
  const date = new Date(`${value}-01T00:00:00`);
  if (Number.isNaN(date.getTime())) return value;
  return new Intl.DateTimeFormat(language, { month: "short", year: "numeric" }).format(date);
}
