// Volume of operations: terminal operations per day split by instance type, and the rows
// per day and instance with their counts by action; exported as CSV or XLSX.
import { useMemo } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import { useQuery } from "@tanstack/react-query";

import { api, type Page } from "../../api/client";
import { apiQuery, usePagedQuery } from "../../api/queries";
import { ErrorState, Loading } from "../../components/states";
import { ReportChart, typeColor, useStoredChoice } from "./charts";
import { FilterForm, useFilters, useReportQuery } from "./filters";
import { ExportButtons, PagedList, TypeBadge } from "./lists";
import { daysAgo, formatDate, INSTANCE_TYPES, isoDay, type OperationRow, type Operations } from "./model";

const KINDS = ["bar", "line"] as const;

export default function OperationsPage() {
  const { t, i18n } = useTranslation("reports");
  const defaults = useMemo(() => ({ from: daysAgo(29), to: isoDay(new Date()) }), []);
  const filters = useFilters(["from", "to", "type", "company_id"], defaults);
  const query = useReportQuery(filters.applied);
  const operations = useQuery(apiQuery<Operations>("/reports/operations", query));
  const rows = usePagedQuery(["/reports/operations/rows", query], (cursor, signal) =>
    api<Page<OperationRow>>("/reports/operations/rows", { query: { ...query, cursor, limit: 20 }, signal }),
  );
  const [kind, setKind] = useStoredChoice("operationsKind", KINDS, "bar");
  const title = t("charts.operations");
  const data = operations.data;
  const types = data ? INSTANCE_TYPES.filter((type) => type === (query.type ?? type)) : [];

  return (
    <>
      <FilterForm state={filters} error={operations.error} />
      <section className="card" aria-labelledby="operations-title">
        <h2 id="operations-title">{title}</h2>
        <div className="toolbar">
          <label className="inline">
            {t("charts.kind")}
            <select value={kind} onChange={(e) => setKind(e.target.value as (typeof KINDS)[number])}>
              {KINDS.map((name) => (
                <option key={name} value={name}>
                  {t(`charts.${name}`)}
                </option>
              ))}
            </select>
          </label>
        </div>
        {operations.error ? (
          <ErrorState error={operations.error} onRetry={() => void operations.refetch()} />
        ) : !data ? (
          <Loading />
        ) : (
          <div aria-busy={operations.isFetching}>
            <dl className="details type-totals">
              <dt>{t("charts.total")}</dt>
              <dd>
                <strong>{data.total}</strong>
              </dd>
              {types.map((type) => (
                <div key={type} className="contents">
                  <dt>
                    <span className="swatch" style={{ background: typeColor(type) }} aria-hidden="true" />
                    {t(`types.${type}`)}
                  </dt>
                  <dd>{data.by_type[type] ?? 0}</dd>
                </div>
              ))}
            </dl>
            <ReportChart
              title={title}
              kind={kind}
              stacked={kind === "bar"}
              labels={data.days.map((d) => formatDate(d.day, i18n.language))}
              series={types.map((type) => ({
                label: t(`types.${type}`),
                data: data.days.map((d) => d.by_type[type] ?? 0),
                color: typeColor(type),
              }))}
              foldTable
            />
          </div>
        )}
      </section>
      <section className="card" aria-labelledby="operation-rows-title">
        <h2 id="operation-rows-title">{t("list.title")}</h2>
        <div className="toolbar">
          <ExportButtons path="/reports/operations/rows" query={query} name="operations" />
        </div>
        <PagedList
          paged={rows}
          label={t("list.title")}
          empty={t("list.noOperations")}
          itemKey={(row) => `${row.day}/${row.instance_id}`}
          render={(row) => (
            <Link to={`/reports/instances/${encodeURIComponent(row.instance_id)}`} className="report-item">
              <span className="item-title">
                <strong>{formatDate(row.day, i18n.language)}</strong>
                <TypeBadge type={row.instance_type} />
              </span>
              <span className="muted">{row.company_name ?? t("list.noCompany")}</span>
              <span className="item-meta">
                <strong>{t("list.operationsRow", { count: row.total })}</strong>
                <span className="muted">
                  {Object.entries(row.by_action)
                    .map(([action, count]) => `${action}: ${count}`)
                    .join(" · ")}
                </span>
              </span>
            </Link>
          )}
        />
      </section>
    </>
  );
}
