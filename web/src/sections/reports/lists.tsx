// The lists behind the charts (R-32), each with sorting, paging and its CSV/XLSX export; an item
// opens its detail (R-34).
import { useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router-dom";

import { api, ApiError, download, type Page } from "../../api/client";
import { usePagedQuery, type Paged } from "../../api/queries";
import { Empty, ErrorState, Loading } from "../../components/states";
import { typeColor } from "./charts";
import { formatDate, LICENSE_STATUSES, type ReportInstance, type ReportLicense } from "./model";

export function TypeBadge({ type, profile }: { type: string | null; profile?: string | null }) {
  const { t } = useTranslation("reports");
  const label = type ? t(`types.${type}`, { defaultValue: type }) : t("types.unknown");
  return (
    <span className="badge type-badge" style={{ borderColor: typeColor(type) }}>
      <span className="swatch" style={{ background: typeColor(type) }} aria-hidden="true" />
      {label}
      {profile ? ` · ${t(`profiles.${profile}`, { defaultValue: profile })}` : ""}
    </span>
  );
}

export function StatusBadge({ status, license = false }: { status: string | null; license?: boolean }) {
  const { t } = useTranslation("reports");
  if (!status) return null;
  return <span className={`badge ${status}`}>{t(`${license ? "licenseStatus" : "status"}.${status}`, { defaultValue: status })}</span>;
}

export function ExportButtons({ path, query, name }: { path: string; query: Record<string, string>; name: string }) {
  const { t } = useTranslation("reports");
  const [busy, setBusy] = useState<"csv" | "xlsx" | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function run(format: "csv" | "xlsx") {
    setBusy(format);
    setError(null);
    try {
      await download(`${path}/export.${format}`, query, `${name}.${format}`);
    } catch (failure) {
      setError(t("export.failed", { detail: failure instanceof ApiError ? failure.readable : String(failure) }));
    } finally {
      setBusy(null);
    }
  }

  return (
    <div className="export-buttons">
      {(["csv", "xlsx"] as const).map((format) => (
        <button key={format} type="button" onClick={() => void run(format)} disabled={busy !== null} aria-busy={busy === format}>
          {busy === format ? t("export.busy") : t(`export.${format}`)}
        </button>
      ))}
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** Sort field and direction, kept in the address under `param` (e.g. `sort=-activation_date`). */
export function useSort(param: string, initial: string): [string, (value: string) => void] {
  const [params, setParams] = useSearchParams();
  const value = params.get(param) ?? initial;
  return [
    value,
    (next: string) => {
      const updated = new URLSearchParams(params);
      if (next === initial) updated.delete(param);
      else updated.set(param, next);
      setParams(updated, { replace: true });
    },
  ];
}

export function SortControls({ fields, value, onChange }: { fields: string[]; value: string; onChange(v: string): void }) {
  const { t } = useTranslation("reports");
  const descending = value.startsWith("-");
  const field = descending ? value.slice(1) : value;
  return (
    <>
      <label className="inline">
        {t("list.sort")}
        <select value={field} onChange={(e) => onChange(`${descending ? "-" : ""}${e.target.value}`)}>
          {fields.map((name) => (
            <option key={name} value={name}>
              {t(`list.sorts.${name}`)}
            </option>
          ))}
        </select>
      </label>
      <label className="inline">
        {t("list.direction")}
        <select value={descending ? "desc" : "asc"} onChange={(e) => onChange(`${e.target.value === "desc" ? "-" : ""}${field}`)}>
          <option value="desc">{t("list.desc")}</option>
          <option value="asc">{t("list.asc")}</option>
        </select>
      </label>
    </>
  );
}

/** Loading, error, empty, the items and "load more". */
export function PagedList<T>({
  paged,
  empty,
  label,
  render,
  itemKey,
}: {
  paged: Paged<T>;
  empty: string;
  label: string;
  render(item: T): ReactNode;
  itemKey(item: T): string;
}) {
  const { t } = useTranslation();
  if (paged.error && paged.items.length === 0) return <ErrorState error={paged.error} onRetry={paged.reload} />;
  if (paged.loading && paged.items.length === 0) return <Loading />;
  if (paged.items.length === 0) return <Empty>{empty}</Empty>;
  return (
    <>
      <ul className="list" aria-label={label} aria-busy={paged.loading}>
        {paged.items.map((item) => (
          <li key={itemKey(item)}>{render(item)}</li>
        ))}
      </ul>
      {paged.error ? <ErrorState error={paged.error} onRetry={paged.loadMore} /> : null}
      {paged.hasMore && (
        <div className="actions">
          <button type="button" onClick={paged.loadMore} disabled={paged.loading}>
            {t("loadMore")}
          </button>
        </div>
      )}
    </>
  );
}

export const INSTANCE_SORT_FIELDS = ["activation_date", "expiry_date", "type", "company_id", "id"];
export const LICENSE_SORT_FIELDS = ["added_at", "status", "instance_id", "id"];

/** The name of an instance, or its contract number until it has one (the reports know a name
 * only once the instance has been renamed). */
export function instanceTitle(instance: ReportInstance): string {
  return instance.name || instance.contract_number || instance.id;
}

export function InstanceItem({ instance, extra }: { instance: ReportInstance; extra?: ReactNode }) {
  const { t, i18n } = useTranslation("reports");
  return (
    <Link to={`/reports/instances/${encodeURIComponent(instance.id)}`} className="report-item">
      <span className="item-title">
        <strong>{instanceTitle(instance)}</strong>
        <TypeBadge type={instance.type} profile={instance.profile} />
      </span>
      <span className="muted">{instance.company_name ?? t("list.noCompany")}</span>
      <span className="item-meta">
        <StatusBadge status={instance.status} />
        <span className="muted">
          {t("list.activated", { date: formatDate(instance.activation_date, i18n.language) })}
          {instance.expiry_date ? ` · ${t("list.expires", { date: formatDate(instance.expiry_date, i18n.language) })}` : ""}
        </span>
      </span>
      {extra}
    </Link>
  );
}

export function InstanceList({ query }: { query: Record<string, string> }) {
  const { t } = useTranslation("reports");
  const [sort, setSort] = useSort("isort", "-activation_date");
  const paged = usePagedQuery(["/reports/instances", query, sort], (cursor, signal) =>
    api<Page<ReportInstance>>("/reports/instances", { query: { ...query, sort, cursor, limit: 20 }, signal }),
  );
  return (
    <>
      <div className="toolbar">
        <SortControls fields={INSTANCE_SORT_FIELDS} value={sort} onChange={setSort} />
        <ExportButtons path="/reports/instances" query={{ ...query, sort }} name="instances" />
      </div>
      <PagedList
        paged={paged}
        label={t("list.instances")}
        empty={t("list.noInstances")}
        itemKey={(item) => item.id}
        render={(item) => <InstanceItem instance={item} />}
      />
    </>
  );
}

export function LicenseItem({ license }: { license: ReportLicense }) {
  const { t, i18n } = useTranslation("reports");
  return (
    <Link to={`/reports/licenses/${encodeURIComponent(license.id)}`} className="report-item">
      <span className="item-title">
        <strong>{license.user_name || t("list.noUser")}</strong>
        <TypeBadge type={license.instance_type} />
      </span>
      <span className="muted">{license.company_name ?? t("list.noCompany")}</span>
      <span className="item-meta">
        <StatusBadge status={license.status} license />
        <span className="muted">
          {t("list.added", { date: formatDate(license.added_at, i18n.language) })}
          {license.serial ? ` · ${license.serial}` : ""}
        </span>
      </span>
    </Link>
  );
}

export function LicenseList({ query }: { query: Record<string, string> }) {
  const { t } = useTranslation("reports");
  const [sort, setSort] = useSort("lsort", "-added_at");
  const [params, setParams] = useSearchParams();
  const licenseStatus = params.get("license_status") ?? "";
  const full = { ...query, license_status: licenseStatus };
  if (!licenseStatus) delete (full as Record<string, string>).license_status;
  const paged = usePagedQuery(["/reports/licenses", full, sort], (cursor, signal) =>
    api<Page<ReportLicense>>("/reports/licenses", { query: { ...full, sort, cursor, limit: 20 }, signal }),
  );
  function changeStatus(value: string) {
    const next = new URLSearchParams(params);
    if (value) next.set("license_status", value);
    else next.delete("license_status");
    setParams(next, { replace: true });
  }
  return (
    <>
      <div className="toolbar">
        <label className="inline">
          {t("detail.status")}
          <select value={licenseStatus} onChange={(e) => changeStatus(e.target.value)}>
            <option value="">{t("filters.all")}</option>
            {LICENSE_STATUSES.map((status) => (
              <option key={status} value={status}>
                {t(`licenseStatus.${status}`)}
              </option>
            ))}
          </select>
        </label>
        <SortControls fields={LICENSE_SORT_FIELDS} value={sort} onChange={setSort} />
        <ExportButtons path="/reports/licenses" query={{ ...full, sort }} name="licenses" />
      </div>
      <PagedList
        paged={paged}
        label={t("list.licenses")}
        empty={t("list.noLicenses")}
        itemKey={(item) => item.id}
        render={(item) => <LicenseItem license={item} />}
      />
    </>
  );
}
