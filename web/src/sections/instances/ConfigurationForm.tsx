// The per-type configuration of an instance (the models of the instances service: one per type).
import { useController } from "react-hook-form";
import { useTranslation } from "react-i18next";

import { ApiError } from "../../api/client";
import type { Configuration, InstanceType } from "./api";

type Kind = "int" | "float" | "bool" | "select" | "multi" | "text" | "list";

interface Field {
  path: string[];
  kind: Kind;
  options?: (string | number)[];
  min?: number;
  max?: number;
  step?: number;
}

const CLOCK_IN = ["pin", "nfc", "qr", "gps", "biometric"];

export const FIELDS: Record<InstanceType, Field[]> = {
  WDS: [
    { path: ["profile"], kind: "select", options: ["essential", "professional", "enterprise"] },
    { path: ["terminal_quota"], kind: "int", min: 1, max: 10000 },
    { path: ["gps_tracking"], kind: "bool" },
    { path: ["clock_in_methods"], kind: "multi", options: CLOCK_IN },
    { path: ["work_calendar", "timezone"], kind: "text" },
    { path: ["work_calendar", "working_days"], kind: "multi", options: [1, 2, 3, 4, 5, 6, 7] },
    { path: ["work_calendar", "daily_hours"], kind: "float", min: 0.5, max: 24, step: 0.5 },
  ],
  MCRM: [
    { path: ["seat_quota"], kind: "int", min: 1, max: 5000 },
    { path: ["modules"], kind: "multi", options: ["contacts", "opportunities", "orders", "catalog", "visits"] },
    { path: ["offline_sync"], kind: "bool" },
    { path: ["currency"], kind: "text" },
  ],
  S360: [
    { path: ["technician_quota"], kind: "int", min: 1, max: 5000 },
    { path: ["sla_hours"], kind: "int", min: 1, max: 720 },
    { path: ["work_order_types"], kind: "list" },
    { path: ["signature_capture"], kind: "bool" },
    { path: ["max_photos_per_order"], kind: "int", min: 0, max: 50 },
  ],
  WTA: [
    { path: ["employee_quota"], kind: "int", min: 1, max: 20000 },
    { path: ["kiosk_count"], kind: "int", min: 0, max: 500 },
    { path: ["clock_in_methods"], kind: "multi", options: CLOCK_IN },
    { path: ["overtime_policy"], kind: "select", options: ["none", "daily", "weekly"] },
    { path: ["rounding_minutes"], kind: "select", options: [0, 5, 10, 15] },
  ],
};

/** The service's defaults (missing fields take them anyway): what a new instance starts with. */
export function defaultConfiguration(type: InstanceType): Configuration {
  switch (type) {
    case "WDS":
      return {
        profile: "professional",
        terminal_quota: 10,
        gps_tracking: true,
        clock_in_methods: ["pin"],
        work_calendar: { timezone: "Europe/Madrid", working_days: [1, 2, 3, 4, 5], daily_hours: 8, holidays: [] },
      };
    case "MCRM":
      return { seat_quota: 5, modules: ["contacts", "visits"], offline_sync: true, currency: "EUR" };
    case "S360":
      return {
        technician_quota: 5,
        sla_hours: 48,
        work_order_types: ["installation", "repair", "maintenance"],
        signature_capture: true,
        max_photos_per_order: 10,
      };
    case "WTA":
      return {
        employee_quota: 25,
        kiosk_count: 1,
        clock_in_methods: ["pin", "nfc"],
        overtime_policy: "weekly",
        rounding_minutes: 0,
      };
  }
}

/** The quota field of each type (seats). */
export const QUOTA_FIELD: Record<InstanceType, string> = {
  WDS: "terminal_quota",
  MCRM: "seat_quota",
  S360: "technician_quota",
  WTA: "employee_quota",
};

function read(config: Configuration, path: string[]): unknown {
  let value: unknown = config;
  for (const key of path) value = value && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}

/** The errors of the answer under `configuration.<path>` (the field or its items). */
function errorsUnder(error: unknown, field: string): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  const found = error.problem.errors?.filter((e) => e.field === field || e.field.startsWith(`${field}.`)) ?? [];
  return found.length ? found.map((e) => e.message).join("; ") : undefined;
}

/** Every field name the form shows, to tell field errors from form errors. */
export function configurationFields(type: InstanceType, error: unknown): string[] {
  if (!(error instanceof ApiError)) return [];
  const prefixes = FIELDS[type].map((f) => `configuration.${f.path.join(".")}`);
  return (error.problem.errors ?? [])
    .map((e) => e.field)
    .filter((name) => prefixes.some((p) => name === p || name.startsWith(`${p}.`)));
}

/** The values of a form holding a configuration (the wizard's, the edit form's). */
export interface ConfigurationValues {
  configuration: Configuration;
}

/** The type's configuration fields, inside a react-hook-form form (`FormProvider`) whose values
 * hold it under `configuration`; `error` is the service's answer, its problems next to their fields. */
export function ConfigurationForm(props: { type: InstanceType; error?: unknown }) {
  const { t } = useTranslation("instances");
  const { type, error } = props;
  return (
    <fieldset className="config-form">
      <legend>{t("config.title", { type })}</legend>
      {FIELDS[type].map((field) => (
        <ConfigurationField key={field.path.join(".")} field={field} error={error} />
      ))}
    </fieldset>
  );
}

function ConfigurationField({ field, error }: { field: Field; error?: unknown }) {
  const { t } = useTranslation("instances");
  const name = field.path.join(".");
  const { field: control } = useController<ConfigurationValues>({ name: `configuration.${name}` });
  const label = t(`config.${name}`);
  const current: unknown = control.value;
  const problem = errorsUnder(error, `configuration.${name}`);
  const set = (next: unknown) => control.onChange(next);
  const errorId = `cfg-error-${name}`;
  const described = problem ? { "aria-invalid": true, "aria-describedby": errorId } : {};
  const message = problem && (
    <span className="field-error" id={errorId}>
      {problem}
    </span>
  );
  switch (field.kind) {
    case "bool":
      return (
        <label key={name} className="check">
          <input type="checkbox" checked={current === true} onChange={(e) => set(e.target.checked)} {...described} />
          {label}
          {message}
        </label>
      );
    case "int":
    case "float":
      return (
        <label key={name}>
          {label}
          <input
            type="number"
            inputMode={field.kind === "int" ? "numeric" : "decimal"}
            min={field.min}
            max={field.max}
            step={field.step ?? 1}
            value={current === undefined || current === null ? "" : String(current)}
            onChange={(e) => set(e.target.value === "" ? "" : Number(e.target.value))}
            {...described}
          />
          {message}
        </label>
      );
    case "text":
      return (
        <label key={name}>
          {label}
          <input type="text" value={typeof current === "string" ? current : ""} onChange={(e) => set(e.target.value)} {...described} />
          {message}
        </label>
      );
    case "list":
      return (
        <label key={name}>
          {label}
          <input
            type="text"
            value={Array.isArray(current) ? current.join(", ") : ""}
            onChange={(e) => set(e.target.value.split(",").map((item) => item.trim()).filter(Boolean))}
            {...described}
          />
          <span className="muted">{t("config.listHint")}</span>
          {message}
        </label>
      );
    case "select":
      return (
        <label key={name}>
          {label}
          <select
            value={String(current ?? "")}
            onChange={(e) => set(typeof field.options?.[0] === "number" ? Number(e.target.value) : e.target.value)}
            {...described}
          >
            {field.options?.map((option) => (
              <option key={option} value={String(option)}>
                {t(`option.${name}.${option}`)}
              </option>
            ))}
          </select>
          {message}
        </label>
      );
    case "multi": {
      const selected = Array.isArray(current) ? (current as (string | number)[]) : [];
      return (
        <fieldset key={name} className="multi" {...described}>
          <legend>{label}</legend>
          {field.options?.map((option) => (
            <label key={option} className="check">
              <input
                type="checkbox"
                checked={selected.includes(option)}
                onChange={(e) =>
                  set(
                    e.target.checked
                      ? field.options!.filter((o) => o === option || selected.includes(o))
                      : selected.filter((o) => o !== option),
                  )
                }
              />
              {t(`option.${name}.${option}`)}
            </label>
          ))}
          {message}
        </fieldset>
      );
    }
  }
}

/** A short read-only rendering of a configuration. */
export function ConfigurationDetails({ type, value }: { type: InstanceType; value: Configuration }) {
  const { t } = useTranslation("instances");
  return (
    <dl className="details">
      {FIELDS[type].map((field) => {
        const name = field.path.join(".");
        const current = read(value, field.path);
        let text: string;
        if (typeof current === "boolean") text = current ? t("yes") : t("no");
        else if (Array.isArray(current))
          text = current.map((item) => (field.kind === "multi" ? t(`option.${name}.${item}`) : String(item))).join(", ");
        else if (field.kind === "select") text = t(`option.${name}.${String(current)}`);
        else text = current === undefined || current === null ? "—" : String(current);
        return [<dt key={`${name}-t`}>{t(`config.${name}`)}</dt>, <dd key={`${name}-d`}>{text}</dd>];
      })}
    </dl>
  );
}
