// Sales-engineering view (R-30…R-33): counts of instances and licenses as configurable charts,
// activations and cancellations per month, the filters (R-31) and the list behind them (R-32).
import type { TFunction } from "i18next";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router-dom";

import { useQuery } from "@tanstack/react-query";

import { apiQuery } from "../../api/queries";
import { ErrorState, Loading } from "../../components/states";
import { profileColor, ReportChart, seriesColor, statusColor, typeColor, useStoredChoice, type Series } from "./charts";
import { FilterForm, useFilters, useReportQuery } from "./filters";
import { InstanceList, LicenseList } from "./lists";
import {
  formatMonth,
  INSTANCE_STATUSES,
  INSTANCE_TYPES,
  LICENSE_STATUSES,
  WDS_PROFILES,
  type Month,
  type Summary,
} from "./model";

const MEASURES = ["instancesByType", "licensesByType", "instancesByStatus", "licensesByStatus"] as const;
type Measure = (typeof MEASURES)[number];
const COUNT_KINDS = ["bar", "doughnut"] as const;
const MONTH_KINDS = ["bar", "line"] as const;

export default function ChartsPage() {
  const filters = useFilters(["activated_from", "activated_to", "status", "type", "company_id"]);
  const query = useReportQuery(filters.applied);
  const summary = useQuery(apiQuery<Summary>("/reports/summary", query));
  const monthly = useQuery(apiQuery<{ months: Month[] }>("/reports/monthly", query));

  return (
    <>
      <FilterForm state={filters} error={summary.error} />
      <CountsCard
        summary={summary.data}
        loading={summary.isFetching}
        error={summary.error}
        reload={() => void summary.refetch()}
      />
      <MonthlyCard
        months={monthly.data?.months}
        loading={monthly.isFetching}
        error={monthly.error}
        reload={() => void monthly.refetch()}
      />
      <DetailCard query={query} />
    </>
  );
}

function countSeries(summary: Summary, measure: Measure, t: TFunction<"reports">) {
  const labels: string[] = [];
  const data: number[] = [];
  const colors: string[] = [];
  const add = (label: string, value: number, color: string) => {
    labels.push(label);
    data.push(value);
    colors.push(color);
  };
  if (measure === "instancesByType") {
    // WDS split by its contracted profile (R-33), then the other types.
    const profiles = summary.instances.wds_by_profile;
    const known = [...WDS_PROFILES, ...Object.keys(profiles).filter((p) => !(WDS_PROFILES as readonly string[]).includes(p))];
    for (const profile of known) {
      const value = profiles[profile] ?? 0;
      if (value > 0 || (WDS_PROFILES as readonly string[]).includes(profile)) {
        add(`WDS · ${t(`profiles.${profile}`, { defaultValue: profile })}`, value, profileColor(profile));
      }
    }
    for (const type of INSTANCE_TYPES.filter((type) => type !== "WDS")) {
      add(t(`types.${type}`), summary.instances.by_type[type] ?? 0, typeColor(type));
    }
  } else if (measure === "licensesByType") {
    for (const type of INSTANCE_TYPES) add(t(`types.${type}`), summary.licenses.by_type[type] ?? 0, typeColor(type));
    const unknown = summary.licenses.by_type.unknown ?? 0;
    if (unknown > 0) add(t("types.unknown"), unknown, typeColor(null));
  } else if (measure === "instancesByStatus") {
    for (const status of INSTANCE_STATUSES) add(t(`status.${status}`), summary.instances.by_status[status] ?? 0, statusColor(status));
  } else {
    for (const status of LICENSE_STATUSES) {
      add(t(`licenseStatus.${status}`), summary.licenses.by_status[status] ?? 0, statusColor(status));
    }
  }
  return { labels, series: [{ label: t(`charts.${measure}`), data, color: colors }] satisfies Series[] };
}

function CountsCard(props: { summary?: Summary; loading: boolean; error: unknown; reload(): void }) {
  const { t } = useTranslation("reports");
  const [measure, setMeasure] = useStoredChoice<Measure>("measure", MEASURES, "instancesByType");
  const [kind, setKind] = useStoredChoice("countKind", COUNT_KINDS, "bar");
  const title = t(`charts.${measure}`);
  return (
    <section className="card" aria-labelledby="counts-title">
      <h2 id="counts-title">{t("charts.counts")}</h2>
      <div className="toolbar">
        <label className="inline">
          {t("charts.data")}
          <select value={measure} onChange={(e) => setMeasure(e.target.value as Measure)}>
            {MEASURES.map((name) => (
              <option key={name} value={name}>
                {t(`charts.${name}`)}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          {t("charts.kind")}
          <select value={kind} onChange={(e) => setKind(e.target.value as (typeof COUNT_KINDS)[number])}>
            {COUNT_KINDS.map((name) => (
              <option key={name} value={name}>
                {t(`charts.${name}`)}
              </option>
            ))}
          </select>
        </label>
      </div>
      {props.error ? (
        <ErrorState error={props.error} onRetry={props.reload} />
      ) : !props.summary ? (
        <Loading />
      ) : (
        <div aria-busy={props.loading}>
          <p className="totals" data-testid="report-totals">
            {t("charts.totals", { instances: props.summary.instances.total, licenses: props.summary.licenses.total })}
          </p>
          <h3 className="chart-title">{title}</h3>
          <ReportChart title={title} kind={kind} {...countSeries(props.summary, measure, t)} />
        </div>
      )}
    </section>
  );
}

function MonthlyCard(props: { months?: Month[]; loading: boolean; error: unknown; reload(): void }) {
  const { t, i18n } = useTranslation("reports");
  const [kind, setKind] = useStoredChoice("monthKind", MONTH_KINDS, "bar");
  const title = t("charts.monthly");
  return (
    <section className="card" aria-labelledby="monthly-title">
      <h2 id="monthly-title">{title}</h2>
      <div className="toolbar">
        <label className="inline">
          {t("charts.kind")}
          <select value={kind} onChange={(e) => setKind(e.target.value as (typeof MONTH_KINDS)[number])}>
            {MONTH_KINDS.map((name) => (
              <option key={name} value={name}>
                {t(`charts.${name}`)}
              </option>
            ))}
          </select>
        </label>
      </div>
      {props.error ? (
        <ErrorState error={props.error} onRetry={props.reload} />
      ) : !props.months ? (
        <Loading />
      ) : (
        <div aria-busy={props.loading}>
          <ReportChart
            title={title}
            kind={kind}
            labels={props.months.map((m) => formatMonth(m.month, i18n.language))}
            series={[
              { label: t("charts.activations"), data: props.months.map((m) => m.activations), color: seriesColor("activations") },
              {
                label: t("charts.cancellations"),
                data: props.months.map((m) => m.cancellations),
                color: seriesColor("cancellations"),
              },
            ]}
            foldTable
          />
        </div>
      )}
    </section>
  );
}

function DetailCard({ query }: { query: Record<string, string> }) {
  const { t } = useTranslation("reports");
  const [params, setParams] = useSearchParams();
  const tab = params.get("list") === "licenses" ? "licenses" : "instances";
  function choose(next: "instances" | "licenses") {
    const updated = new URLSearchParams(params);
    if (next === "instances") updated.delete("list");
    else updated.set("list", next);
    setParams(updated, { replace: true });
  }
  return (
    <section className="card" aria-labelledby="detail-title">
      <h2 id="detail-title">{t("list.title")}</h2>
      <div className="segmented" role="group" aria-label={t("list.title")}>
        {(["instances", "licenses"] as const).map((name) => (
          <button
            key={name}
            type="button"
            aria-pressed={tab === name}
            className={tab === name ? "selected" : ""}
            onClick={() => choose(name)}
          >
            {t(`list.${name}`)}
          </button>
        ))}
      </div>
      {tab === "instances" ? <InstanceList query={query} /> : <LicenseList query={query} />}
    </section>
  );
}
