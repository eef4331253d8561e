// The detail of an item of the report lists: an instance with its licenses by status, its
// licenses and its recent operations; a license. Actions on them live in Instances.
import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Link, useLocation, useNavigate, useParams } from "react-router-dom";

import { api, ApiError, type Page } from "../../api/client";
import { apiQuery, usePagedQuery } from "../../api/queries";
import { ErrorState, Loading } from "../../components/states";
import { statusColor } from "./charts";
import { instanceTitle, LicenseItem, PagedList, StatusBadge, TypeBadge } from "./lists";
import {
  daysAgo,
  formatDate,
  isoDay,
  LICENSE_STATUSES,
  type InstanceDetail,
  type Operations,
  type ReportLicense,
} from "./model";

function BackButton() {
  const { t } = useTranslation("reports");
  const navigate = useNavigate();
  const location = useLocation();
  return (
    <button type="button" onClick={() => (location.key !== "default" ? navigate(-1) : navigate("/reports"))}>
      {t("detail.back")}
    </button>
  );
}

function Failure({ error, retry }: { error: unknown; retry(): void }) {
  const { t } = useTranslation("reports");
  if (error instanceof ApiError && error.status === 404) {
    return (
      <p className="state" role="alert">
        {t("detail.notFound")}
      </p>
    );
  }
  return <ErrorState error={error} onRetry={retry} />;
}

export function InstanceDetailPage() {
  const { t, i18n } = useTranslation("reports");
  const { id = "" } = useParams();
  const detail = useQuery(apiQuery<InstanceDetail>(`/reports/instances/${encodeURIComponent(id)}`));
  const instance = detail.data;
  const date = (value: string | null) => formatDate(value, i18n.language);
  const stamp = (value: string | null) => formatDate(value, i18n.language, true);

  return (
    <section aria-labelledby="report-detail-title">
      <div className="toolbar">
        <BackButton />
      </div>
      {detail.error ? (
        <Failure error={detail.error} retry={() => void detail.refetch()} />
      ) : !instance ? (
        <Loading />
      ) : (
        <>
          <div className="card">
            <h2 id="report-detail-title">
              {t("detail.instance")}: {instanceTitle(instance)}
            </h2>
            <p>
              <TypeBadge type={instance.type} profile={instance.profile} /> <StatusBadge status={instance.status} />
            </p>
            <dl className="details">
              <dt>{t("detail.id")}</dt>
              <dd>{instance.id}</dd>
              <dt>{t("detail.name")}</dt>
              <dd>{instance.name ?? "—"}</dd>
              <dt>{t("detail.company")}</dt>
              <dd>{instance.company_name ?? instance.company_id}</dd>
              <dt>{t("detail.type")}</dt>
              <dd>{t(`types.${instance.type}`, { defaultValue: instance.type })}</dd>
              {instance.profile && (
                <>
                  <dt>{t("detail.profile")}</dt>
                  <dd>{t(`profiles.${instance.profile}`, { defaultValue: instance.profile })}</dd>
                </>
              )}
              <dt>{t("detail.contract")}</dt>
              <dd>{instance.contract_number ?? "—"}</dd>
              <dt>{t("detail.status")}</dt>
              <dd>{t(`status.${instance.status}`, { defaultValue: instance.status })}</dd>
              <dt>{t("detail.activation")}</dt>
              <dd>{date(instance.activation_date)}</dd>
              <dt>{t("detail.expiry")}</dt>
              <dd>{date(instance.expiry_date)}</dd>
              <dt>{t("detail.provisioned")}</dt>
              <dd>{stamp(instance.provisioned_at)}</dd>
              {instance.cancellation_requested_at && (
                <>
                  <dt>{t("detail.cancellationRequested")}</dt>
                  <dd>{stamp(instance.cancellation_requested_at)}</dd>
                  <dt>{t("detail.cancellationReason")}</dt>
                  <dd>{instance.cancellation_reason ?? "—"}</dd>
                </>
              )}
            </dl>
            <div className="actions">
              <Link to={`/instances/${encodeURIComponent(instance.id)}`}>{t("detail.manage")}</Link>
            </div>
          </div>
          <div className="card">
            <h3>{t("detail.licensesByStatus")}</h3>
            <table className="chart-table">
              <tbody>
                {LICENSE_STATUSES.map((status) => (
                  <tr key={status}>
                    <th scope="row">
                      <span className="swatch" style={{ background: statusColor(status) }} aria-hidden="true" />
                      {t(`licenseStatus.${status}`)}
                    </th>
                    <td className="num">{instance.licenses_by_status[status] ?? 0}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <InstanceOperations instance={instance} />
          <InstanceLicenses instance={instance} />
        </>
      )}
    </section>
  );
}

function InstanceOperations({ instance }: { instance: InstanceDetail }) {
  const { t } = useTranslation("reports");
  const query = { instance_id: instance.id, partner_id: instance.partner_id, from: daysAgo(29), to: isoDay(new Date()) };
  const operations = useQuery(apiQuery<Operations>("/reports/operations", query));
  return (
    <div className="card">
      <h3>{t("detail.operations")}</h3>
      {operations.error ? (
        <ErrorState error={operations.error} onRetry={() => void operations.refetch()} />
      ) : !operations.data ? (
        <Loading />
      ) : (
        <p className="totals">
          <strong>{operations.data.total}</strong>
        </p>
      )}
    </div>
  );
}

function InstanceLicenses({ instance }: { instance: InstanceDetail }) {
  const { t } = useTranslation("reports");
  const query = { instance_id: instance.id, partner_id: instance.partner_id, limit: 20 };
  const paged = usePagedQuery(["/reports/licenses", query], (cursor, signal) =>
    api<Page<ReportLicense>>("/reports/licenses", { query: { ...query, cursor }, signal }),
  );
  return (
    <div className="card">
      <h3>{t("detail.licenses")}</h3>
      <PagedList
        paged={paged}
        label={t("detail.licenses")}
        empty={t("detail.noLicenses")}
        itemKey={(item) => item.id}
        render={(item) => <LicenseItem license={item} />}
      />
    </div>
  );
}

export function LicenseDetailPage() {
  const { t, i18n } = useTranslation("reports");
  const { id = "" } = useParams();
  const detail = useQuery(apiQuery<ReportLicense>(`/reports/licenses/${encodeURIComponent(id)}`));
  const license = detail.data;
  const stamp = (value: string | null) => formatDate(value, i18n.language, true);
  return (
    <section aria-labelledby="report-detail-title">
      <div className="toolbar">
        <BackButton />
      </div>
      {detail.error ? (
        <Failure error={detail.error} retry={() => void detail.refetch()} />
      ) : !license ? (
        <Loading />
      ) : (
        <div className="card">
          <h2 id="report-detail-title">
            {t("detail.license")}: {license.user_name || license.id}
          </h2>
          <p>
            <TypeBadge type={license.instance_type} /> <StatusBadge status={license.status} license />
          </p>
          <dl className="details">
            <dt>{t("detail.id")}</dt>
            <dd>{license.id}</dd>
            <dt>{t("detail.user")}</dt>
            <dd>{license.user_name ?? "—"}</dd>
            <dt>{t("detail.pin")}</dt>
            <dd>{license.pin ?? "—"}</dd>
            <dt>{t("detail.serial")}</dt>
            <dd>{license.serial ?? "—"}</dd>
            <dt>{t("detail.company")}</dt>
            <dd>{license.company_name ?? license.company_id}</dd>
            <dt>{t("detail.instance")}</dt>
            <dd>
              <Link to={`/reports/instances/${encodeURIComponent(license.instance_id)}`}>{license.instance_id}</Link>
            </dd>
            <dt>{t("detail.status")}</dt>
            <dd>{license.status ? t(`licenseStatus.${license.status}`) : "—"}</dd>
            <dt>{t("detail.added")}</dt>
            <dd>{stamp(license.added_at)}</dd>
            {license.released_at && (
              <>
                <dt>{t("detail.released")}</dt>
                <dd>{stamp(license.released_at)}</dd>
              </>
            )}
            {license.revoked_at && (
              <>
                <dt>{t("detail.revoked")}</dt>
                <dd>{stamp(license.revoked_at)}</dd>
                <dt>{t("detail.revokeReason")}</dt>
                <dd>{license.revoke_reason ?? "—"}</dd>
              </>
            )}
          </dl>
          <div className="actions">
            <Link to={`/reports/instances/${encodeURIComponent(license.instance_id)}`}>{t("detail.instanceLink")}</Link>
            <Link to={`/instances/${encodeURIComponent(license.instance_id)}/licenses/${encodeURIComponent(license.id)}`}>
              {t("detail.manage")}
            </Link>
          </div>
        </div>
      )}
    </section>
  );
}
