// Profile → Integrations (issue #19): the acting partner's webhook subscriptions, created here with
// their signing secret shown once; each one's page edits, pauses, rotates, tests and shows its log.
import { useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, Route, Routes, useSearchParams } from "react-router-dom";

import { api } from "../../../api/client";
import { usePagedQuery } from "../../../api/queries";
import { useAuth } from "../../../auth/AuthContext";
import { HelpLink } from "../../../components/HelpLink";
import { Empty, ErrorState, Loading } from "../../../components/states";
import { SubscriptionPage } from "./Subscription";
import { SubscriptionForm } from "./SubscriptionForm";
import { PausedReason, SecretPanel, StatusBadge, useFormatDateTime, WEBHOOKS } from "./shared";
import { SUBSCRIPTION_STATUSES, type CreatedSubscription, type SubscriptionPage as Page } from "./types";
import "./webhooks.css";

export default function IntegrationsRoutes() {
  return (
    <Routes>
      <Route index element={<IntegrationsPage />} />
      <Route path=":subscriptionId" element={<SubscriptionPage />} />
    </Routes>
  );
}

const PAGE_SIZE = 20;

function IntegrationsPage() {
  const { t } = useTranslation("profile");
  const { partnerId } = useAuth();
  const format = useFormatDateTime();
  const [params, setParams] = useSearchParams();
  const status = params.get("status") ?? "";
  const [creating, setCreating] = useState(false);
  // The secret lives in this page's state only: dismissing it, leaving or reloading forgets it.
  const [created, setCreated] = useState<CreatedSubscription | null>(null);
  const newButton = useRef<HTMLButtonElement>(null);
  const filters = { partner_id: partnerId, status: status || undefined, limit: PAGE_SIZE };
  const list = usePagedQuery<Page>([WEBHOOKS, filters], (cursor, signal) =>
    api<Page>(WEBHOOKS, { query: { ...filters, cursor }, signal }),
  );

  return (
    <section className="profile-page webhooks-page">
      <header className="section-header">
        <h1>{t("webhooks.title")}</h1>
        <HelpLink section="profile" />
      </header>
      <p>
        <Link to="/profile">{t("back")}</Link>
      </p>
      <p className="muted">{t("webhooks.intro")}</p>
      {created && (
        <SecretPanel
          secret={created.secret}
          title={t("webhooks.secret.createdTitle")}
          onDismiss={() => {
            setCreated(null);
            newButton.current?.focus();
          }}
        />
      )}
      {created && (
        <p>
          <Link to={created.id}>{t("webhooks.openCreated", { url: created.url })}</Link>
        </p>
      )}
      <div className="toolbar">
        <label className="webhooks-filter">
          {t("webhooks.filterStatus")}
          <select
            value={status}
            onChange={(event) => {
              const next = new URLSearchParams(params);
              if (event.target.value) next.set("status", event.target.value);
              else next.delete("status");
              setParams(next, { replace: true });
            }}
          >
            <option value="">{t("webhooks.anyStatus")}</option>
            {SUBSCRIPTION_STATUSES.map((value) => (
              <option key={value} value={value}>
                {t(`webhooks.status.${value}`)}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          className="primary"
          ref={newButton}
          aria-expanded={creating}
          aria-controls={creating ? "webhook-new" : undefined}
          onClick={() => setCreating((open) => !open)}
          disabled={!partnerId}
        >
          {t("webhooks.new")}
        </button>
      </div>
      {creating && partnerId && (
        <div id="webhook-new">
          <SubscriptionForm
            partnerId={partnerId}
            onCreated={(subscription) => {
              setCreating(false);
              setCreated(subscription);
            }}
            onCancel={() => {
              setCreating(false);
              newButton.current?.focus();
            }}
          />
        </div>
      )}
      {list.loading && list.pages.length === 0 && <Loading />}
      {list.error !== undefined && list.items.length === 0 && <ErrorState error={list.error} onRetry={list.reload} />}
      {!list.loading && list.error === undefined && list.items.length === 0 && (
        <Empty>{status ? t("webhooks.noneWithStatus") : t("webhooks.none")}</Empty>
      )}
      {list.items.length > 0 && (
        <ul className="list webhooks-list" aria-label={t("webhooks.listLabel")}>
          {list.items.map((subscription) => (
            <li key={subscription.id}>
              <Link to={subscription.id}>
                <span className="webhooks-row-head">
                  <strong className="webhook-url">{subscription.url}</strong>
                  <StatusBadge subscription={subscription} />
                </span>
                {subscription.description && <span className="webhooks-row-line">{subscription.description}</span>}
                <span className="muted webhooks-row-line">
                  {t("webhooks.eventCount", { count: subscription.event_types.length })} ·{" "}
                  {t("webhooks.createdAt", { date: format(subscription.created_at) })}
                </span>
                {subscription.status === "failing_paused" && (
                  <span className="webhooks-row-line webhook-reason">
                    <PausedReason subscription={subscription} />
                  </span>
                )}
              </Link>
            </li>
          ))}
        </ul>
      )}
      {list.hasMore && (
        <div className="actions">
          <button type="button" onClick={list.loadMore} disabled={list.loading}>
            {t("common:loadMore")}
          </button>
        </div>
      )}
    </section>
  );
}
