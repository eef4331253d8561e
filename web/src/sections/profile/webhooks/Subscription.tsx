// One subscription: what it sends where, pause/resume, edit, send a test event, rotate the secret
// (the new one shown once), delete; then its delivery log.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router-dom";

import { api, ApiError } from "../../../api/client";
import { apiQuery, invalidatePaths, queryClient } from "../../../api/queries";
import { ConfirmDialog } from "../../../components/ConfirmDialog";
import { HelpLink } from "../../../components/HelpLink";
import { ErrorState, Loading } from "../../../components/states";
import { Deliveries } from "./Deliveries";
import { SubscriptionForm } from "./SubscriptionForm";
import {
  formProblem,
  PausedReason,
  problemAt,
  SecretPanel,
  StatusBadge,
  useFormatDateTime,
  useInstances,
  WEBHOOKS,
} from "./shared";
import {
  DEFAULT_OVERLAP_HOURS,
  MAX_OVERLAP_HOURS,
  type Delivery,
  type RotatedSecret,
  type Subscription,
  type SubscriptionPatch,
} from "./types";

export function SubscriptionPage() {
  const { t } = useTranslation("profile");
  const { subscriptionId = "" } = useParams();
  const query = apiQuery<Subscription>(`${WEBHOOKS}/${encodeURIComponent(subscriptionId)}`);
  const subscription = useQuery(query);
  return (
    <section className="profile-page webhooks-page">
      <header className="section-header">
        <h1>{t("webhooks.subscriptionTitle")}</h1>
        <HelpLink section="profile" />
      </header>
      <p>
        <Link to="/profile/integrations">{t("webhooks.back")}</Link>
      </p>
      {subscription.isPending && <Loading />}
      {subscription.error && !subscription.data && (
        <ErrorState error={subscription.error} onRetry={() => void subscription.refetch()} />
      )}
      {subscription.data && (
        <SubscriptionView
          key={subscription.data.id}
          subscription={subscription.data}
          onChanged={(saved) => queryClient.setQueryData(query.queryKey, saved)}
        />
      )}
    </section>
  );
}

function SubscriptionView(props: { subscription: Subscription; onChanged(saved: Subscription): void }) {
  const { subscription, onChanged } = props;
  const { t } = useTranslation("profile");
  const navigate = useNavigate();
  const format = useFormatDateTime();
  const instances = useInstances();
  const path = `${WEBHOOKS}/${subscription.id}`;
  const [editing, setEditing] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [rotating, setRotating] = useState(false);
  const [overlap, setOverlap] = useState(String(DEFAULT_OVERLAP_HOURS));
  const [rotated, setRotated] = useState<RotatedSecret | null>(null);
  const [said, setSaid] = useState("");
  const editButton = useRef<HTMLButtonElement>(null);
  const rotateButton = useRef<HTMLButtonElement>(null);

  const changeStatus = useMutation({
    mutationFn: (status: "active" | "paused") =>
      api<Subscription>(path, {
        method: "PATCH",
        body: { status } satisfies SubscriptionPatch,
        headers: { "Content-Type": "application/merge-patch+json" },
      }),
    onSuccess: (saved) => {
      onChanged(saved);
      void invalidatePaths(WEBHOOKS);
      setSaid(saved.status === "active" ? t("webhooks.resumed") : t("webhooks.paused"));
    },
  });
  const sendTest = useMutation({
    mutationFn: () => api<Delivery>(`${path}/test`, { method: "POST" }),
    onSuccess: () => {
      void invalidatePaths(`${path}/deliveries`);
      setSaid(t("webhooks.testSent"));
    },
  });
  const rotate = useMutation({
    mutationFn: (hours: number) =>
      api<RotatedSecret>(`${path}/secret`, { method: "POST", body: { overlap_hours: hours } }),
    onSuccess: (answer) => {
      setRotating(false);
      setRotated(answer);
      void invalidatePaths(WEBHOOKS);
    },
  });
  const remove = useMutation({
    mutationFn: () => api<void>(path, { method: "DELETE" }),
    onSuccess: () => {
      // Gone: its own reads are dropped (never refetched into a 404), the lists read again.
      navigate("/profile/integrations", { replace: true });
      queryClient.removeQueries({
        predicate: (query) => typeof query.queryKey[0] === "string" && query.queryKey[0].startsWith(path),
      });
      void queryClient.invalidateQueries({ queryKey: [WEBHOOKS] });
    },
  });

  const hours = Number(overlap);
  const overlapValid = overlap.trim() !== "" && Number.isInteger(hours) && hours >= 0 && hours <= MAX_OVERLAP_HOURS;
  const overlapError = overlapValid
    ? problemAt(rotate.error, "overlap_hours")
    : t("webhooks.rotate.overlapInvalid", { max: MAX_OVERLAP_HOURS });
  const actionError = changeStatus.error ?? sendTest.error;
  const instanceName = (id: string) => {
    const found = instances.data?.items.find((instance) => instance.id === id);
    return found ? `${found.name} (${found.type})` : id;
  };

  return (
    <>
      <article className="card" aria-labelledby="webhook-url-title">
        <h2 id="webhook-url-title" className="webhook-url">
          {subscription.url}
        </h2>
        <dl className="details webhook-details">
          <dt>{t("webhooks.field.status")}</dt>
          <dd>
            <StatusBadge subscription={subscription} />
            {subscription.status === "failing_paused" && (
              <span className="webhook-reason" data-testid="webhook-reason">
                {" "}
                <PausedReason subscription={subscription} />
              </span>
            )}
          </dd>
          <dt>{t("webhooks.field.description")}</dt>
          <dd>{subscription.description || "—"}</dd>
          <dt>{t("webhooks.field.eventTypes")}</dt>
          <dd>
            <ul className="webhook-types">
              {subscription.event_types.map((type) => (
                <li key={type}>
                  <code>{type}</code>
                </li>
              ))}
            </ul>
          </dd>
          <dt>{t("webhooks.field.instance")}</dt>
          <dd>{subscription.instance_id ? instanceName(subscription.instance_id) : t("webhooks.form.anyInstance")}</dd>
          <dt>{t("webhooks.field.secret")}</dt>
          <dd>
            <code>{subscription.secret_hint}</code>
          </dd>
          <dt>{t("webhooks.field.failures")}</dt>
          <dd>{subscription.consecutive_failures}</dd>
          <dt>{t("webhooks.field.created")}</dt>
          <dd>
            {format(subscription.created_at)} · {subscription.created_by}
          </dd>
          <dt>{t("webhooks.field.updated")}</dt>
          <dd>{format(subscription.updated_at)}</dd>
        </dl>
        <div className="actions">
          {subscription.status === "active" ? (
            <button type="button" disabled={changeStatus.isPending} onClick={() => changeStatus.mutate("paused")}>
              {t("webhooks.pause")}
            </button>
          ) : (
            <button type="button" disabled={changeStatus.isPending} onClick={() => changeStatus.mutate("active")}>
              {t("webhooks.resume")}
            </button>
          )}
          <button type="button" disabled={sendTest.isPending} onClick={() => sendTest.mutate()}>
            {sendTest.isPending ? t("webhooks.testSending") : t("webhooks.sendTest")}
          </button>
          <button
            type="button"
            ref={editButton}
            aria-expanded={editing}
            onClick={() => setEditing((open) => !open)}
          >
            {t("webhooks.edit")}
          </button>
          <button type="button" ref={rotateButton} onClick={() => setRotating(true)}>
            {t("webhooks.rotate.open")}
          </button>
          <button type="button" className="danger" onClick={() => setConfirmDelete(true)}>
            {t("webhooks.delete.open")}
          </button>
        </div>
        <p role="status" aria-live="polite" className="webhook-live" data-testid="webhook-said">
          {said}
        </p>
        {actionError !== null && (
          <p className="field-error" role="alert">
            {formProblem(actionError, [], t("common:offline"))}
          </p>
        )}
      </article>
      {rotated && (
        <SecretPanel
          secret={rotated.secret}
          title={t("webhooks.secret.rotatedTitle")}
          expiresNote={
            rotated.previous_secret_expires_at
              ? t("webhooks.secret.previousUntil", { date: format(rotated.previous_secret_expires_at) })
              : t("webhooks.secret.previousGone")
          }
          onDismiss={() => {
            setRotated(null);
            rotateButton.current?.focus();
          }}
        />
      )}
      {editing && (
        <SubscriptionForm
          partnerId={subscription.partner_id}
          subscription={subscription}
          onSaved={(saved) => {
            onChanged(saved);
            setEditing(false);
            setSaid(t("webhooks.saved"));
            editButton.current?.focus();
          }}
          onCancel={() => {
            setEditing(false);
            editButton.current?.focus();
          }}
        />
      )}
      <Deliveries subscriptionId={subscription.id} />
      <ConfirmDialog
        open={confirmDelete}
        title={t("webhooks.delete.title")}
        confirmLabel={t("webhooks.delete.confirm")}
        danger
        busy={remove.isPending}
        onConfirm={() => remove.mutate()}
        onCancel={() => {
          setConfirmDelete(false);
          remove.reset();
        }}
      >
        <p>{t("webhooks.delete.question", { url: subscription.url })}</p>
        {remove.error !== null && (
          <p className="field-error" role="alert">
            {remove.error instanceof ApiError ? remove.error.readable : t("common:offline")}
          </p>
        )}
      </ConfirmDialog>
      <ConfirmDialog
        open={rotating}
        title={t("webhooks.rotate.title")}
        confirmLabel={t("webhooks.rotate.confirm")}
        confirmDisabled={!overlapValid}
        busy={rotate.isPending}
        onConfirm={() => rotate.mutate(hours)}
        onCancel={() => {
          setRotating(false);
          rotate.reset();
        }}
      >
        <p>{t("webhooks.rotate.question")}</p>
        <label>
          {t("webhooks.rotate.overlap")}
          <input
            type="number"
            inputMode="numeric"
            min={0}
            max={MAX_OVERLAP_HOURS}
            step={1}
            value={overlap}
            onChange={(event) => setOverlap(event.target.value)}
            aria-invalid={overlapError ? true : undefined}
            aria-describedby={overlapError ? "webhook-overlap-error" : "webhook-overlap-hint"}
          />
        </label>
        <p className="muted" id="webhook-overlap-hint">
          {t("webhooks.rotate.overlapHint")}
        </p>
        {overlapError && (
          <p className="field-error" id="webhook-overlap-error">
            {overlapError}
          </p>
        )}
        {rotate.error !== null && !problemAt(rotate.error, "overlap_hours") && (
          <p className="field-error" role="alert">
            {formProblem(rotate.error, ["overlap_hours"], t("common:offline"))}
          </p>
        )}
      </ConfirmDialog>
    </>
  );
}
