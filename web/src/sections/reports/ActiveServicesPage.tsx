// The services active in a period: each instance in service at any moment of it, with the
// licenses held in it; exported as CSV or XLSX with the same filters.
import { useMemo } from "react";
import { useTranslation } from "react-i18next";

import { api, type Page } from "../../api/client";
import { usePagedQuery } from "../../api/queries";
import { FilterForm, useFilters, useReportQuery } from "./filters";
import { ExportButtons, INSTANCE_SORT_FIELDS, InstanceItem, PagedList, SortControls, useSort } from "./lists";
import { firstOfMonth, formatDate, isoDay, type ActiveService } from "./model";

export default function ActiveServicesPage() {
  const { t, i18n } = useTranslation("reports");
  const defaults = useMemo(() => ({ from: firstOfMonth(), to: isoDay(new Date()) }), []);
  const filters = useFilters(["from", "to", "status", "type", "company_id"], defaults);
  const query = useReportQuery(filters.applied);
  const [sort, setSort] = useSort("asort", "company_id");
  const paged = usePagedQuery(["/reports/active-services", query, sort], (cursor, signal) =>
    api<Page<ActiveService>>("/reports/active-services", { query: { ...query, sort, cursor, limit: 20 }, signal }),
  );
  return (
    <>
      <FilterForm state={filters} error={paged.error} />
      <section className="card" aria-labelledby="active-title">
        <h2 id="active-title">{t("views.active")}</h2>
        <div className="toolbar">
          <SortControls fields={INSTANCE_SORT_FIELDS} value={sort} onChange={setSort} />
          <ExportButtons path="/reports/active-services" query={{ ...query, sort }} name="active-services" />
        </div>
        <PagedList
          paged={paged}
          label={t("views.active")}
          empty={t("list.noActive")}
          itemKey={(item) => item.instance.id}
          render={(item) => (
            <InstanceItem
              instance={item.instance}
              extra={
                <span className="muted">
                  {t("list.activePeriod", {
                    from: formatDate(item.active_from, i18n.language),
                    to: formatDate(item.active_to, i18n.language),
                  })}
                  {" · "}
                  {t("list.licensesHeld", { count: item.licenses_held })}
                </span>
              }
            />
          )}
        />
      </section>
    </>
  );
}
