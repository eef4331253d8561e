// Silent seats (issue #20): licensed terminals that have sent nothing for N days (a setting of the
// reports service, changed here per view), per partner and instance, never-seen first; CSV/XLSX export.
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import { api } from "../../api/client";
import { usePagedQuery } from "../../api/queries";
import { useAuth } from "../../auth/AuthContext";
import { Empty, ErrorState, Loading, ScrollBox } from "../../components/states";
import { FilterForm, useFilters, useReportQuery } from "./filters";
import type { SilentSeatPage } from "./fieldTypes";
import { ExportButtons } from "./lists";
import { formatDate } from "./model";

const PATH = "/reports/silent-seats";

export default function SilentSeatsPage() {
  const { t, i18n } = useTranslation("reports");
  const { user } = useAuth();
  const filters = useFilters(["days", "instance_id"]);
  const query = useReportQuery(filters.applied);
  const paged = usePagedQuery([PATH, query], (cursor, signal) =>
    api<SilentSeatPage>(PATH, { query: { ...query, cursor, limit: 50 }, signal }),
  );
  const days = paged.pages[0]?.days ?? (Number(query.days) || null);
  const staff = user?.role === "staff";
  return (
    <>
      <FilterForm state={filters} error={paged.error} />
      <section className="card" aria-labelledby="silent-title">
        <h2 id="silent-title">{t("silent.title")}</h2>
        {days !== null && <p className="muted">{t("silent.explain", { days })}</p>}
        <div className="toolbar">
          <ExportButtons path={PATH} query={query} name="silent-seats" />
          {paged.items.length > 0 && (
            <span className="muted" role="status">
              {t("silent.count", { count: paged.items.length })}
              {paged.hasMore ? "+" : ""}
            </span>
          )}
        </div>
        {paged.error !== undefined && paged.items.length === 0 ? (
          <ErrorState error={paged.error} onRetry={paged.reload} />
        ) : paged.loading && paged.items.length === 0 ? (
          <Loading />
        ) : paged.items.length === 0 ? (
          <Empty>{t("silent.empty", { days: days ?? "—" })}</Empty>
        ) : (
          <ScrollBox label={t("silent.table")}>
            <table className="silent-seats" aria-label={t("silent.table")} aria-busy={paged.loading}>
              <thead>
                <tr>
                  {staff && <th scope="col">{t("silent.partner")}</th>}
                  <th scope="col">{t("silent.instance")}</th>
                  <th scope="col">{t("silent.user")}</th>
                  <th scope="col">{t("silent.serial")}</th>
                  <th scope="col">{t("silent.lastSeen")}</th>
                  <th scope="col">{t("silent.silentDays")}</th>
                </tr>
              </thead>
              <tbody>
                {paged.items.map((seat) => (
                  <tr key={`${seat.instance_id}/${seat.license_id}`} data-testid="silent-seat">
                    {staff && <td>{seat.partner_id}</td>}
                    <td>
                      <Link to={`/reports/instances/${encodeURIComponent(seat.instance_id)}`}>
                        {seat.instance_name || seat.instance_id}
                      </Link>
                    </td>
                    <td>
                      <Link to={`/reports/licenses/${encodeURIComponent(seat.license_id)}`}>
                        {seat.user ?? t("silent.noUser")}
                      </Link>
                    </td>
                    <td>{seat.serial ?? t("silent.noSerial")}</td>
                    <td>{seat.last_seen_at ? formatDate(seat.last_seen_at, i18n.language, true) : t("silent.never")}</td>
                    <td>{seat.silent_days ?? t("silent.never")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </ScrollBox>
        )}
        {paged.error !== undefined && paged.items.length > 0 && <ErrorState error={paged.error} onRetry={paged.loadMore} />}
        {paged.hasMore && (
          <div className="actions">
            <button type="button" onClick={paged.loadMore} disabled={paged.loading}>
              {t("loadMore", { ns: "common" })}
            </button>
          </div>
        )}
      </section>
    </>
  );
}
