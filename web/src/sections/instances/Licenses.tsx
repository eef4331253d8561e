// an instance's licenses: list, search, refresh, add, details, impersonate, revoke, release.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useFieldArray, useForm } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router-dom";

import { api, type Page } from "../../api/client";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { apiQuery, invalidatePaths, usePagedQuery } from "../../api/queries";
import { Empty, ErrorState, Loading } from "../../components/states";
import { fieldError, formatDateTime, isLive, type Instance, type License, type LicenseStatus } from "./api";
import { ProblemAlert, StatusBadge, TypeBadge, useReasonFlow } from "./parts";

const LICENSE_STATUSES: LicenseStatus[] = ["active", "released", "revoked"];

function useInstance(instanceId: string) {
  return useQuery(apiQuery<Instance>(`/instances/${instanceId}`));
}

/** After a change of the instance's licenses: its counts, lists and views read again. */
function licensesChanged(instanceId: string): Promise<void> {
  return invalidatePaths(`/instances/${instanceId}`, `/views/instances/${instanceId}`, "/views/threads", "/activity");
}

function Quota({ instance }: { instance: Instance }) {
  const { t } = useTranslation("instances");
  return (
    <p className="muted">
      {t("seats", { inUse: instance.licenses.in_use, quota: instance.licenses.quota })} ·{" "}
      {t("licenses.counts", { ...instance.licenses })}
    </p>
  );
}

export function LicenseList() {
  const { t } = useTranslation("instances");
  const { instanceId = "" } = useParams();
  const instance = useInstance(instanceId);
  const [search, setSearch] = useState("");
  const [q, setQ] = useState("");
  const [status, setStatus] = useState("");
  // License events make "/instances" stale (NotificationsProvider): the list and the counts refetch.
  const filters = { q, status, limit: 20 };
  const list = usePagedQuery([`/instances/${instanceId}/licenses`, filters], (cursor, signal) =>
    api<Page<License>>(`/instances/${instanceId}/licenses`, { query: { ...filters, cursor }, signal }),
  );
  const refresh = () => void invalidatePaths(`/instances/${instanceId}`);
  const canAdd =
    instance.data !== undefined &&
    isLive(instance.data) &&
    instance.data.licenses.in_use < instance.data.licenses.quota;

  return (
    <section>
      <header className="section-header">
        <Link to={`/instances/${instanceId}`}>← {t("common:back")}</Link>
      </header>
      <h1>
        {instance.data && <TypeBadge type={instance.data.type} />} {t("licenses.titleOf", { name: instance.data?.name ?? "" })}
      </h1>
      {instance.data && <Quota instance={instance.data} />}
      <div className="toolbar">
        {canAdd && (
          <Link className="button primary" to={`/instances/${instanceId}/licenses/new`}>
            {t("licenses.add")}
          </Link>
        )}
        <button type="button" onClick={refresh}>
          {t("licenses.refresh")}
        </button>
      </div>
      <form
        className="toolbar"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          setQ(search.trim());
        }}
      >
        <input
          type="search"
          aria-label={t("licenses.searchLabel")}
          placeholder={t("licenses.searchPlaceholder")}
          maxLength={100}
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <button type="submit">{t("common:search")}</button>
        <label className="inline">
          {t("filter.status")}
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">{t("filter.all")}</option>
            {LICENSE_STATUSES.map((value) => (
              <option key={value} value={value}>
                {t(`license.${value}`)}
              </option>
            ))}
          </select>
        </label>
      </form>
      {list.error ? (
        <ErrorState error={list.error} onRetry={list.reload} />
      ) : list.items.length === 0 && !list.loading ? (
        <Empty>{q || status ? t("licenses.emptyFiltered") : t("licenses.empty")}</Empty>
      ) : (
        <ul className="list" aria-label={t("licenses.listLabel")}>
          {list.items.map((license) => (
            <li key={license.id}>
              <Link to={`/instances/${instanceId}/licenses/${license.id}`} className="instance-row">
                <span className="row-title">
                  <strong>{license.user_name}</strong> <StatusBadge status={license.status} kind="license" />
                </span>
                <span className="muted">
                  {license.email} · PIN {license.pin}
                  {license.serial ? ` · ${license.serial}` : ""}
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
      {list.loading && <Loading />}
      {list.hasMore && !list.loading && (
        <div className="actions center">
          <button type="button" onClick={list.loadMore}>
            {t("common:loadMore")}
          </button>
        </div>
      )}
    </section>
  );
}

interface Row {
  user_name: string;
  email: string;
  pin: string;
  serial: string;
}
type RowField = keyof Row;

const emptyRow = (): Row => ({ user_name: "", email: "", pin: "", serial: "" });
const ROW_INPUTS: { field: RowField; type: string; extra: Record<string, unknown> }[] = [
  { field: "user_name", type: "text", extra: { required: true, maxLength: 200, autoComplete: "off" } },
  { field: "email", type: "email", extra: { required: true, autoComplete: "off" } },
  { field: "pin", type: "text", extra: { required: true, inputMode: "numeric", pattern: "[0-9]{4,8}", maxLength: 8 } },
  { field: "serial", type: "text", extra: { maxLength: 64 } },
];

/** Several licenses at once, one fieldset each; the service validates, and its problems
 * (`licenses.<n>.<field>`) show next to the fields they name, which carry the same names. */
export function AddLicenses() {
  const { t } = useTranslation("instances");
  const { instanceId = "" } = useParams();
  const navigate = useNavigate();
  const instance = useInstance(instanceId);
  const { control, register, handleSubmit, watch } = useForm<{ licenses: Row[] }>({
    defaultValues: { licenses: [emptyRow()] },
  });
  const rows = useFieldArray({ control, name: "licenses" });
  const add = useMutation({
    mutationFn: (licenses: Row[]) =>
      api(`/instances/${instanceId}/licenses`, {
        method: "POST",
        body: {
          licenses: licenses.map((row) => ({
            user_name: row.user_name.trim(),
            email: row.email.trim(),
            pin: row.pin.trim(),
            serial: row.serial.trim() || null,
          })),
        },
      }),
    onSuccess: () => {
      void licensesChanged(instanceId);
      navigate(`/instances/${instanceId}/licenses`);
    },
  });
  const values = watch("licenses");

  if (!instance.data)
    return instance.error ? <ErrorState error={instance.error} onRetry={() => void instance.refetch()} /> : <Loading />;
  const free = instance.data.licenses.quota - instance.data.licenses.in_use;
  const error = add.error;
  const count = rows.fields.length;
  const incomplete = values.some((r) => !r.user_name.trim() || !r.email.trim() || !r.pin.trim());

  const fields = rows.fields.flatMap((_, i) => ROW_INPUTS.map(({ field }) => `licenses.${i}.${field}`));
  return (
    <section>
      <header className="section-header">
        <Link to={`/instances/${instanceId}/licenses`}>← {t("common:back")}</Link>
      </header>
      <h1>{t("addLicenses.title")}</h1>
      <Quota instance={instance.data} />
      {!isLive(instance.data) ? (
        <p className="notice notice-warning">{t("edit.notLive")}</p>
      ) : (
        <form onSubmit={(event) => void handleSubmit((submitted) => add.mutate(submitted.licenses))(event)} noValidate>
          {rows.fields.map((row, index) => (
            <fieldset key={row.id} className="card">
              <legend>{t("addLicenses.number", { n: index + 1 })}</legend>
              {ROW_INPUTS.map(({ field, type, extra }) => {
                const problem = fieldError(error, `licenses.${index}.${field}`);
                return (
                  <label key={field}>
                    {t(`addLicenses.${field}`)}
                    <input
                      type={type}
                      {...register(`licenses.${index}.${field}`)}
                      aria-invalid={problem ? true : undefined}
                      {...extra}
                    />
                    {problem && <span className="field-error">{problem}</span>}
                  </label>
                );
              })}
              {count > 1 && (
                <button type="button" onClick={() => rows.remove(index)} aria-label={t("addLicenses.removeN", { n: index + 1 })}>
                  {t("addLicenses.remove")}
                </button>
              )}
            </fieldset>
          ))}
          <p className="muted">{t("addLicenses.free", { count: Math.max(free - count, 0) })}</p>
          <ProblemAlert error={error} fields={fields} />
          <div className="actions">
            <button type="button" disabled={count >= free} onClick={() => rows.append(emptyRow())}>
              {t("addLicenses.another")}
            </button>
            <button type="submit" className="primary" disabled={add.isPending || count > free || incomplete}>
              {t("addLicenses.submit", { count })}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

export function LicenseDetail() {
  const { t, i18n } = useTranslation("instances");
  const { instanceId = "", licenseId = "" } = useParams();
  const instance = useInstance(instanceId);
  const license = useQuery(apiQuery<License>(`/instances/${instanceId}/licenses/${licenseId}`));
  const [impersonating, setImpersonating] = useState(false);
  const [panel, setPanel] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const reload = () => void licensesChanged(instanceId);

  const revoke = useReasonFlow({
    title: t("revoke.title"),
    question: t("revoke.question"),
    reasonLabel: t("revoke.reason"),
    danger: true,
    async send(reason) {
      await api(`/instances/${instanceId}/licenses/${licenseId}/revoke`, { method: "POST", body: { reason } });
      setDone(t("revoke.done"));
      reload();
    },
  });
  const release = useReasonFlow({
    title: t("release.title"),
    question: t("release.question"),
    reasonLabel: t("release.reason"),
    optional: true,
    async send(reason) {
      await api(`/instances/${instanceId}/licenses/${licenseId}/release`, {
        method: "POST",
        body: { reason: reason || null },
      });
      setDone(t("release.done"));
      reload();
    },
  });

  if (!license.data || !instance.data) {
    const error = license.error ?? instance.error;
    return error ? <ErrorState error={error} onRetry={reload} /> : <Loading />;
  }
  const item = license.data;
  const live = isLive(instance.data);
  const canImpersonate = live && item.status !== "revoked";
  const canRevoke = live && item.status !== "revoked";
  const canRelease = live && item.status === "active" && item.serial !== null;

  return (
    <section>
      <header className="section-header">
        <Link to={`/instances/${instanceId}/licenses`}>← {t("common:back")}</Link>
      </header>
      <h1>{item.user_name}</h1>
      <p>
        <StatusBadge status={item.status} kind="license" /> <span className="muted">{instance.data.name}</span>
      </p>
      {done && (
        <p className="notice notice-ok" role="status">
          {done}
        </p>
      )}
      <div className="card">
        <dl className="details">
          <dt>{t("addLicenses.user_name")}</dt>
          <dd>{item.user_name}</dd>
          <dt>{t("addLicenses.email")}</dt>
          <dd>{item.email}</dd>
          <dt>{t("addLicenses.pin")}</dt>
          <dd>{item.pin}</dd>
          <dt>{t("licenseDetail.serial")}</dt>
          <dd>{item.serial ?? t("licenseDetail.noSerial")}</dd>
          <dt>{t("licenseDetail.created")}</dt>
          <dd>{formatDateTime(item.created_at, i18n.language)}</dd>
          <dt>{t("licenseDetail.updated")}</dt>
          <dd>{formatDateTime(item.updated_at, i18n.language)}</dd>
          {item.revoked_reason && (
            <>
              <dt>{t("licenseDetail.revokedReason")}</dt>
              <dd>{item.revoked_reason}</dd>
            </>
          )}
        </dl>
        <div className="actions">
          {canImpersonate && (
            <button type="button" onClick={() => setImpersonating(true)}>
              {t("impersonate.action")}
            </button>
          )}
          {canRelease && (
            <button type="button" onClick={release.start}>
              {t("release.action")}
            </button>
          )}
          {canRevoke && (
            <button type="button" className="danger" onClick={revoke.start}>
              {t("revoke.action")}
            </button>
          )}
        </div>
        {panel && (
          <p className="notice notice-ok">
            <a href={panel} target="_blank" rel="noopener noreferrer">
              {t("impersonate.open")}
            </a>
          </p>
        )}
      </div>
      {impersonating && (
        <ImpersonateDialog
          instanceId={instanceId}
          licenseId={licenseId}
          onClose={() => setImpersonating(false)}
          onDone={(url) => {
            setImpersonating(false);
            setPanel(url);
            window.open(url, "_blank", "noopener,noreferrer");
          }}
        />
      )}
      {revoke.dialogs}
      {release.dialogs}
    </section>
  );
}

/** open the web panel as the license's user; the reason is audited. */
function ImpersonateDialog(props: { instanceId: string; licenseId: string; onClose(): void; onDone(url: string): void }) {
  const { t } = useTranslation("instances");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  async function submit() {
    setBusy(true);
    setError(null);
    try {
      const result = await api<{ panel_url: string }>(
        `/instances/${props.instanceId}/licenses/${props.licenseId}/impersonate`,
        { method: "POST", body: { reason: reason.trim() } },
      );
      props.onDone(result.panel_url);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }
  const problem = fieldError(error, "reason");
  return (
    <ConfirmDialog
      open
      title={t("impersonate.title")}
      confirmLabel={t("impersonate.submit")}
      busy={busy}
      confirmDisabled={reason.trim().length < 3}
      onConfirm={() => void submit()}
      onCancel={props.onClose}
    >
      <p>{t("impersonate.question")}</p>
      <label>
        {t("impersonate.reason")}
        <textarea value={reason} onChange={(e) => setReason(e.target.value)} required minLength={3} rows={3} />
        {problem && <span className="field-error">{problem}</span>}
      </label>
      <ProblemAlert error={error} fields={["reason"]} />
    </ConfirmDialog>
  );
}
