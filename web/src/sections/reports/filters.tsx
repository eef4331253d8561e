// The report filters: what the user edits is kept apart from what the charts and lists
// show (the applied filters, kept in the address so a detail's "back" returns to them); the
// "Filter" button applies the edited ones and is disabled while both are equal.
import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router-dom";

import { ApiError, type Page } from "../../api/client";
import { apiQuery } from "../../api/queries";
import { useQuery } from "@tanstack/react-query";

import { useAuth } from "../../auth/AuthContext";
import { INSTANCE_STATUSES, INSTANCE_TYPES, type Company } from "./model";

export type FilterKey =
  | "activated_from"
  | "activated_to"
  | "from"
  | "to"
  | "status"
  | "type"
  | "company_id"
  | "instance_id"
  | "days";
export type Filters = Partial<Record<FilterKey, string>>;

export interface FilterState {
  keys: FilterKey[];
  applied: Filters;
  edited: Filters;
  dirty: boolean;
  edit(key: FilterKey, value: string): void;
  apply(): void;
  reset(): void;
}

export function useFilters(keys: FilterKey[], defaults: Filters = {}): FilterState {
  const [params, setParams] = useSearchParams();
  const { partnerId } = useAuth();
  const search = params.toString();
  const applied = useMemo(() => {
    const values: Filters = {};
    for (const key of keys) values[key] = params.get(key) ?? defaults[key] ?? "";
    return values;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [search]);
  const [edited, setEdited] = useState<Filters>(applied);
  useEffect(() => setEdited(applied), [applied]);

  // Another partner's companies and instances are not this one's: switching partner drops those filters.
  const previousPartner = useRef(partnerId);
  useEffect(() => {
    if (previousPartner.current !== partnerId && (params.has("company_id") || params.has("instance_id"))) {
      const next = new URLSearchParams(params);
      next.delete("company_id");
      next.delete("instance_id");
      setParams(next, { replace: true });
    }
    previousPartner.current = partnerId;
  }, [partnerId, params, setParams]);

  const dirty = keys.some((key) => (edited[key] ?? "") !== (applied[key] ?? ""));
  return {
    keys,
    applied,
    edited,
    dirty,
    edit: (key, value) => setEdited((previous) => ({ ...previous, [key]: value })),
    apply: () => {
      const next = new URLSearchParams(params);
      for (const key of keys) {
        const value = edited[key] ?? "";
        if (value) next.set(key, value);
        else next.delete(key);
      }
      next.delete("cursor");
      setParams(next);
    },
    reset: () => setEdited(Object.fromEntries(keys.map((key) => [key, defaults[key] ?? ""])) as Filters),
  };
}

/** The query of the reports API for the applied filters, scoped to the acting partner. */
export function useReportQuery(filters: Filters): Record<string, string> {
  const { partnerId } = useAuth();
  return useMemo(() => {
    const query: Record<string, string> = {};
    for (const [key, value] of Object.entries(filters)) if (value) query[key] = value;
    if (partnerId) query.partner_id = partnerId;
    return query;
  }, [filters, partnerId]);
}

function useCompanies(): Company[] {
  // Without companies the filter offers none (the reports work without it).
  const companies = useQuery(apiQuery<Page<Company>>("/companies", { limit: 100, sort: "name" }));
  return companies.data?.items ?? [];
}

function useInstances(enabled: boolean): { id: string; name: string }[] {
  const instances = useQuery({ ...apiQuery<Page<{ id: string; name: string }>>("/instances", { limit: 100, sort: "name" }), enabled });
  return instances.data?.items ?? [];
}

const LABELS: Record<FilterKey, string> = {
  activated_from: "filters.activatedFrom",
  activated_to: "filters.activatedTo",
  from: "filters.from",
  to: "filters.to",
  status: "filters.status",
  type: "filters.type",
  company_id: "filters.company",
  instance_id: "filters.instance",
  days: "filters.days",
};

export function FilterForm({ state, error }: { state: FilterState; error?: unknown }) {
  const { t } = useTranslation("reports");
  const companies = useCompanies();
  const instances = useInstances(state.keys.includes("instance_id"));
  const fieldError = (key: FilterKey) => (error instanceof ApiError ? error.fieldError(key) : undefined);

  function submit(event: FormEvent) {
    event.preventDefault();
    if (state.dirty) state.apply();
  }

  function field(key: FilterKey) {
    const message = fieldError(key);
    const described = message ? { "aria-invalid": true, "aria-describedby": `filter-${key}-error` } : {};
    const value = state.edited[key] ?? "";
    const change = (next: string) => state.edit(key, next);
    let control;
    if (key === "status") {
      control = (
        <select value={value} onChange={(e) => change(e.target.value)} {...described}>
          <option value="">{t("filters.all")}</option>
          {INSTANCE_STATUSES.map((status) => (
            <option key={status} value={status}>
              {t(`status.${status}`)}
            </option>
          ))}
        </select>
      );
    } else if (key === "type") {
      control = (
        <select value={value} onChange={(e) => change(e.target.value)} {...described}>
          <option value="">{t("filters.all")}</option>
          {INSTANCE_TYPES.map((type) => (
            <option key={type} value={type}>
              {t(`types.${type}`)}
            </option>
          ))}
        </select>
      );
    } else if (key === "company_id") {
      const known = companies.some((company) => company.id === value);
      control = (
        <select value={value} onChange={(e) => change(e.target.value)} {...described}>
          <option value="">{t("filters.allCompanies")}</option>
          {value && !known && <option value={value}>{value}</option>}
          {companies.map((company) => (
            <option key={company.id} value={company.id}>
              {company.name}
            </option>
          ))}
        </select>
      );
    } else if (key === "instance_id") {
      const known = instances.some((instance) => instance.id === value);
      control = (
        <select value={value} onChange={(e) => change(e.target.value)} {...described}>
          <option value="">{t("filters.allInstances")}</option>
          {value && !known && <option value={value}>{value}</option>}
          {instances.map((instance) => (
            <option key={instance.id} value={instance.id}>
              {instance.name}
            </option>
          ))}
        </select>
      );
    } else if (key === "days") {
      control = (
        <input type="number" min={1} max={3650} inputMode="numeric" value={value} onChange={(e) => change(e.target.value)} {...described} />
      );
    } else {
      control = <input type="date" value={value} onChange={(e) => change(e.target.value)} {...described} />;
    }
    return (
      <div key={key} className={`filter filter-${key}`}>
        <label>
          {t(LABELS[key])}
          {control}
        </label>
        {message && (
          <p className="field-error" id={`filter-${key}-error`}>
            {message}
          </p>
        )}
      </div>
    );
  }

  const unnamed =
    error instanceof ApiError && error.status === 422 && !state.keys.some((key) => fieldError(key)) ? error.readable : null;
  return (
    <form className="card report-filters" onSubmit={submit} noValidate aria-label={t("filters.title")}>
      <div className="filter-grid">{state.keys.map(field)}</div>
      {unnamed && <p className="field-error">{unnamed}</p>}
      <div className="actions">
        {state.dirty && (
          <span className="muted filter-pending" role="status">
            {t("filters.pending")}
          </span>
        )}
        <button type="button" onClick={state.reset}>
          {t("filters.reset")}
        </button>
        <button type="submit" className="primary" disabled={!state.dirty}>
          {t("filters.apply")}
        </button>
      </div>
    </form>
  );
}
