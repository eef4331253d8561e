// one instance (composed view: instance + licenses + thread header + terminals) and its actions.
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router-dom";

import { api } from "../../api/client";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { apiQuery, invalidatePaths } from "../../api/queries";
import { DegradedNotice, ErrorState, Loading } from "../../components/states";
import {
  addDays,
  canRequestCancellation,
  fieldError,
  formatDate,
  formatDateTime,
  isLive,
  type Instance,
  type InstanceView,
} from "./api";
import type { RemoteActionPage } from "../activity/fieldTypes";
import { ConfigurationDetails } from "./ConfigurationForm";
import { ProblemAlert, StatusBadge, TypeBadge, useReasonFlow } from "./parts";

export function InstanceDetail() {
  const { t, i18n } = useTranslation("instances");
  const { instanceId = "" } = useParams();
  // Instance and license events make "/views/instances" stale (NotificationsProvider): it refetches.
  const view = useQuery(apiQuery<InstanceView>(`/views/instances/${instanceId}`));
  const changed = () => void invalidatePaths(`/views/instances/${instanceId}`, "/instances", "/views/threads");
  const [sheetOpen, setSheetOpen] = useState(false);
  const [dialog, setDialog] = useState<"extend" | "clear" | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const cancellation = useReasonFlow({
    title: t("cancelInstance.title"),
    question: t("cancelInstance.question"),
    reasonLabel: t("cancelInstance.reason"),
    danger: true,
    async send(reason) {
      await api<Instance>(`/instances/${instanceId}/cancellation-request`, { method: "POST", body: { reason } });
      setDone(t("cancelInstance.done"));
      changed();
    },
  });

  if (!view.data) return view.error ? <ErrorState error={view.error} onRetry={() => void view.refetch()} /> : <Loading />;
  const { instance, thread, terminals, licenses, degraded } = view.data;
  const live = isLive(instance);

  const open = (what: "extend" | "clear" | "cancel") => {
    setSheetOpen(false);
    setDone(null);
    if (what === "cancel") cancellation.start();
    else setDialog(what);
  };

  return (
    <section>
      <header className="section-header">
        <Link to="/instances">← {t("common:back")}</Link>
        <button
          type="button"
          className="primary"
          aria-expanded={sheetOpen}
          aria-controls="instance-actions"
          onClick={() => setSheetOpen((value) => !value)}
        >
          {t("actions.title")}
        </button>
      </header>
      <h1 className="instance-title">
        <TypeBadge type={instance.type} /> {instance.name}
      </h1>
      <p>
        <StatusBadge status={instance.status} /> <span className="muted">{instance.id}</span>
      </p>
      <DegradedNotice degraded={degraded} />
      <OverdueActions instanceId={instance.id} />
      {done && (
        <p className="notice notice-ok" role="status">
          {done}
        </p>
      )}
      {sheetOpen && (
        <ActionsSheet
          instance={instance}
          threadId={thread?.id ?? null}
          onClose={() => setSheetOpen(false)}
          onAction={open}
        />
      )}
      {instance.cancellation && (
        <p className="notice notice-warning">
          {t("cancelInstance.requested", {
            date: formatDateTime(instance.cancellation.requested_at, i18n.language),
            reason: instance.cancellation.reason,
          })}
        </p>
      )}
      <div className="card">
        <h2>{t("detail.data")}</h2>
        <dl className="details">
          <dt>{t("detail.company")}</dt>
          <dd>
            <Link to={`/instances/companies/${instance.company_id}`}>{thread?.company_name ?? instance.company_id}</Link>
          </dd>
          <dt>{t("detail.contract")}</dt>
          <dd>{instance.contract_number ?? "—"}</dd>
          <dt>{t("detail.activation")}</dt>
          <dd>{formatDate(instance.activation_date, i18n.language)}</dd>
          <dt>{t("detail.expiry")}</dt>
          <dd>{formatDate(instance.expiry_date, i18n.language)}</dd>
          <dt>{t("detail.term")}</dt>
          <dd>{t("detail.months", { count: instance.term_months })}</dd>
        </dl>
      </div>
      <div className="card">
        <h2>{t("detail.configuration")}</h2>
        <ConfigurationDetails type={instance.type} value={instance.configuration} />
      </div>
      <div className="card">
        <h2>{t("licenses.title")}</h2>
        <p>
          {t("seats", { inUse: instance.licenses.in_use, quota: instance.licenses.quota })} ·{" "}
          {t("licenses.counts", { ...instance.licenses })}
        </p>
        {licenses && licenses.items.length > 0 && (
          <ul className="compact">
            {licenses.items.slice(0, 5).map((license) => (
              <li key={license.id}>
                <Link to={`/instances/${instance.id}/licenses/${license.id}`}>{license.user_name}</Link>{" "}
                <StatusBadge status={license.status} kind="license" />
              </li>
            ))}
          </ul>
        )}
        <Link to={`/instances/${instance.id}/licenses`}>{t("actions.licenses")}</Link>
      </div>
      <div className="card">
        <h2>{t("detail.support")}</h2>
        {thread ? (
          <p>
            <Link to={`/support/threads/${thread.id}`}>{t("actions.thread")}</Link>{" "}
            {thread.unread > 0 && <span className="badge">{t("detail.unread", { count: thread.unread })}</span>}
          </p>
        ) : (
          <p className="muted">{t("detail.noThread")}</p>
        )}
      </div>
      <div className="card">
        <h2>{t("detail.terminals")}</h2>
        {terminals === null ? (
          <p className="muted">{t("detail.terminalsUnavailable")}</p>
        ) : terminals.length === 0 ? (
          <p className="muted">{t("detail.noTerminals")}</p>
        ) : (
          <ul className="compact">
            {terminals.map((terminal) => (
              <li key={terminal.serial}>
                <strong>{terminal.serial}</strong> {[terminal.maker, terminal.model].filter(Boolean).join(" ")} —{" "}
                <span className="muted">
                  {terminal.last_action} · {formatDateTime(terminal.last_seen, i18n.language)}
                </span>
              </li>
            ))}
          </ul>
        )}
      </div>
      {dialog === "extend" && live && (
        <ExtendDialog
          instance={instance}
          onClose={() => setDialog(null)}
          onDone={(date) => {
            setDialog(null);
            setDone(t("extend.done", { date: formatDate(date, i18n.language) }));
            changed();
          }}
        />
      )}
      {dialog === "clear" && live && (
        <ClearSessionDialog
          instanceId={instance.id}
          onClose={() => setDialog(null)}
          onDone={() => {
            setDialog(null);
            setDone(t("clear.done"));
            changed();
          }}
        />
      )}
      {cancellation.dialogs}
    </section>
  );
}

/** Remote actions of the instance no terminal picked up in time (issue #20): a warning, or nothing. */
function OverdueActions({ instanceId }: { instanceId: string }) {
  const { t, i18n } = useTranslation("instances");
  // Without the trail (an error) the view shows no warning rather than a failure.
  const overdue = useQuery(apiQuery<RemoteActionPage>("/activity/actions", { instance_id: instanceId, overdue: true, limit: 20 }));
  const items = overdue.data?.items ?? [];
  if (items.length === 0) return null;
  return (
    <div className="notice notice-warning overdue-actions" role="status" data-testid="overdue-actions">
      <strong>{t("overdue.title")}</strong>
      <p>{t("overdue.explain")}</p>
      <ul className="compact">
        {items.map((action) => (
          <li key={action.id}>
            {t("overdue.item", {
              kind: t(`activity:trail.kind.${action.kind}`),
              time: formatDateTime(action.requested_at, i18n.language),
            })}{" "}
            {action.serial ? (
              <Link to={`/activity/terminals/${encodeURIComponent(action.serial)}`}>{action.serial}</Link>
            ) : (
              t("overdue.allTerminals")
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The instance's actions, only those its state allows. */
function ActionsSheet(props: {
  instance: Instance;
  threadId: string | null;
  onClose(): void;
  onAction(what: "extend" | "clear" | "cancel"): void;
}) {
  const { t } = useTranslation("instances");
  const navigate = useNavigate();
  const { instance } = props;
  const live = isLive(instance);
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => event.key === "Escape" && props.onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [props]);
  const go = (to: string) => () => navigate(to);
  return (
    <div className="sheet card" id="instance-actions" role="group" aria-label={t("actions.title")}>
      {live && (
        <button type="button" onClick={go(`/instances/${instance.id}/edit`)}>
          {t("actions.edit")}
        </button>
      )}
      <button type="button" onClick={go(`/instances/${instance.id}/licenses`)}>
        {t("actions.licenses")}
      </button>
      <button type="button" onClick={go(`/instances/companies/${instance.company_id}`)}>
        {t("actions.company")}
      </button>
      {props.threadId && (
        <button type="button" onClick={go(`/support/threads/${props.threadId}`)}>
          {t("actions.thread")}
        </button>
      )}
      {live && (
        <button type="button" onClick={() => props.onAction("extend")}>
          {t("actions.extend")}
        </button>
      )}
      {live && (
        <button type="button" onClick={() => props.onAction("clear")}>
          {t("actions.clear")}
        </button>
      )}
      {canRequestCancellation(instance) && (
        <button type="button" className="danger" onClick={() => props.onAction("cancel")}>
          {t("actions.cancel")}
        </button>
      )}
      <button type="button" onClick={props.onClose}>
        {t("common:close")}
      </button>
    </div>
  );
}

/** a later expiry date, effective at once. */
function ExtendDialog(props: { instance: Instance; onClose(): void; onDone(date: string): void }) {
  const { t } = useTranslation("instances");
  const min = addDays(props.instance.expiry_date, 1);
  const [date, setDate] = useState(addDays(props.instance.expiry_date, 365));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  async function submit() {
    setBusy(true);
    setError(null);
    try {
      const result = await api<{ expiry_date: string }>(`/instances/${props.instance.id}/extend`, {
        method: "POST",
        body: { new_expiry_date: date },
      });
      props.onDone(result.expiry_date);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }
  const problem = fieldError(error, "new_expiry_date");
  return (
    <ConfirmDialog
      open
      title={t("extend.title")}
      confirmLabel={t("extend.submit")}
      busy={busy}
      confirmDisabled={!date || date < min}
      onConfirm={() => void submit()}
      onCancel={props.onClose}
    >
      <label>
        {t("extend.date")}
        <input type="date" required min={min} value={date} onChange={(e) => setDate(e.target.value)} />
        {problem && <span className="field-error">{problem}</span>}
      </label>
      <ProblemAlert error={error} fields={["new_expiry_date"]} />
    </ConfirmDialog>
  );
}

/** every terminal of the instance logs in again and fetches the new configuration. */
function ClearSessionDialog(props: { instanceId: string; onClose(): void; onDone(): void }) {
  const { t } = useTranslation("instances");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  async function submit() {
    setBusy(true);
    setError(null);
    try {
      await api(`/instances/${props.instanceId}/clear-session`, { method: "POST", body: {} });
      props.onDone();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }
  return (
    <ConfirmDialog
      open
      title={t("clear.title")}
      confirmLabel={t("clear.submit")}
      busy={busy}
      danger
      onConfirm={() => void submit()}
      onCancel={props.onClose}
    >
      <p>{t("clear.question")}</p>
      <ProblemAlert error={error} />
    </ConfirmDialog>
  );
}
