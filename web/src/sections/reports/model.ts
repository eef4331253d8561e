// The reports API's shapes (/api/v1/reports/…, see the gateway's OpenAPI `reports__*` schemas)
// and small helpers shared by the section's screens.

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

export interface Summary {
  instances: InstanceCounts;
  licenses: { total: number; by_type: Record<string, number>; by_status: Record<string, number> };
}

export interface Month {
  month: string;
  activations: number;
  cancellations: number;
  activations_by_type: Record<string, number>;
  cancellations_by_type: Record<string, number>;
}

export interface ReportInstance {
  id: string;
  partner_id: string;
  company_id: string;
  company_name: string | null;
  type: string;
  profile: string | null;
  name: string | null;
  contract_number: string | null;
  status: string;
  activation_date: string | null;
  expiry_date: string | null;
  provisioned_at: string | null;
  cancellation_requested_at: string | null;
  cancellation_reason: string | null;
}

export interface InstanceDetail extends ReportInstance {
  licenses_by_status: Record<string, number>;
}

export interface ReportLicense {
  id: string;
  instance_id: string;
  instance_type: string | null;
  partner_id: string;
  company_id: string;
  company_name: string | null;
  user_name: string | null;
  pin: string | null;
  serial: string | null;
  status: string | null;
  added_at: string | null;
  released_at: string | null;
  revoked_at: string | null;
  revoke_reason: string | null;
}

export interface ActiveService {
  instance: ReportInstance;
  active_from: string;
  active_to: string;
  licenses_held: number;
}

export interface Operations {
  from: string;
  to: string;
  total: number;
  by_type: Record<string, number>;
  days: { day: string; total: number; by_type: Record<string, number> }[];
}

export interface OperationRow {
  day: string;
  instance_id: string;
  instance_type: string | null;
  partner_id: string;
  company_id: string | null;
  company_name: string | null;
  total: number;
  by_action: Record<string, number>;
}

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
