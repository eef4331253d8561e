// Types of the instances service's answers (through the gateway) and small helpers of this section.
import type { Schema } from "../../api/types";
import { ApiError } from "../../api/client";

export const TYPES = ["WDS", "MCRM", "S360", "WTA"] as const;
export type InstanceType = (typeof TYPES)[number];
export const STATUSES = ["active", "cancellation_requested", "cancelled", "expired"] as const;
export type InstanceStatus = (typeof STATUSES)[number];
export type LicenseStatus = "active" | "released" | "revoked";
export type Stage = "draft" | "provisioned" | "generated" | "cancelled";

export type Configuration = Record<string, unknown>;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The JSON Merge Patch (RFC 7396) from `before` to `after`: only what changed (objects field by
 * field), a member left out of `after` as null. A PATCH then says what the user changed, nothing more. */
export function mergePatch(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(after)) {
    if (value === undefined) continue;
    const old = before[key];
    if (isObject(value) && isObject(old)) {
      const nested = mergePatch(old, value);
      if (Object.keys(nested).length > 0) patch[key] = nested;
    } else if (JSON.stringify(value) !== JSON.stringify(old)) patch[key] = value;
  }
  for (const key of Object.keys(before)) if (after[key] === undefined) patch[key] = null;
  return patch;
}

export interface LicenseSummary {
  quota: number;
  in_use: number;
  active: number;
  released: number;
  revoked: number;
}

export type Instance = Schema<"instances__InstanceOut">;

export type License = Schema<"instances__LicenseOut">;

export interface Address {
  street: string;
  city: string;
  postal_code: string;
  province: string;
  country?: string;
}

export type Company = Schema<"instances__CompanyOut">;

export type Contract = Schema<"instances__ContractOut">;

export interface Terminal {
  serial: string;
  pin: string | null;
  last_seen: string;
  last_action: string;
  maker: string | null;
  model: string | null;
  battery_pct: number | null;
  license_id: string | null;
}

export interface Degraded {
  part: string;
  service: string;
}

export interface InstanceView {
  instance: Instance;
  licenses: { items: License[]; next_cursor: string | null } | null;
  thread: { id: string; company_name: string | null; unread: number; message_count: number } | null;
  terminals: Terminal[] | null;
  degraded: Degraded[];
}

/** The instance can still change (generated and not cancelled). */
export function isLive(instance: Instance): boolean {
  return instance.stage === "generated" && instance.status !== null && instance.status !== "cancelled";
}

/** A cancellation can be requested of an active instance (an expired one is still active underneath). */
export function canRequestCancellation(instance: Instance): boolean {
  return instance.stage === "generated" && (instance.status === "active" || instance.status === "expired");
}

/** The error of one field of a problem+json answer (full path, e.g. `configuration.terminal_quota`). */
export function fieldError(error: unknown, field: string): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  return error.problem.errors?.find((e) => e.field === field)?.message;
}

/** The error to show at form level: everything not tied to one of the form's fields. */
export function formError(error: unknown, fields: string[]): string | undefined {
  if (!error) return undefined;
  if (error instanceof ApiError) {
    const named = error.problem.errors ?? [];
    if (named.length > 0 && named.every((e) => fields.includes(e.field))) return undefined;
    const others = named.filter((e) => !fields.includes(e.field));
    if (others.length > 0) return others.map((e) => `${e.field}: ${e.message}`).join("; ");
    return error.readable;
  }
  return error instanceof TypeError ? undefined : String(error);
}

export function formatDate(value: string | null | undefined, language: string): string {
  if (!value) return "—";
  const date = value.length === 10 ? new Date(`${value}T00:00:00`) : new Date(value);
  return date.toLocaleDateString(language === "en" ? "en-GB" : "es-ES");
}

export function formatDateTime(value: string | null | undefined, language: string): string {
  if (!value) return "—";
  return new Date(value).toLocaleString(language === "en" ? "en-GB" : "es-ES");
}

/** A date (YYYY-MM-DD) `days` after `value` (or today). */
export function addDays(value: string | null, days: number): string {
  const base = value ? new Date(`${value}T00:00:00Z`) : new Date();
  base.setUTCDate(base.getUTCDate() + days);
  return base.toISOString().slice(0, 10);
}
