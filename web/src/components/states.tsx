import { useTranslation } from "react-i18next";

import { ApiError } from "../api/client";

export function Loading() {
  const { t } = useTranslation();
  return (
    <p className="state state-loading" role="status" aria-live="polite">
      {t("loading")}
    </p>
  );
}

export function Empty({ children }: { children?: React.ReactNode }) {
  const { t } = useTranslation();
  return <p className="state state-empty">{children ?? t("empty")}</p>;
}

export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useTranslation();
  const detail = error instanceof ApiError ? error.readable : error instanceof TypeError ? t("offline") : String(error);
  return (
    <div className="state state-error" role="alert">
      <strong>{t("error")}</strong>
      <p>{detail}</p>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          {t("retry")}
        </button>
      )}
    </div>
  );
}

/** A notice that a composed response lacks some parts (the gateway's `degraded`). */
export function DegradedNotice({ degraded }: { degraded: { part: string; service: string }[] }) {
  const { t } = useTranslation();
  if (degraded.length === 0) return null;
  return (
    <p className="notice notice-warning" role="status">
      {t("degraded")} ({degraded.map((d) => d.part).join(", ")})
    </p>
  );
}

/** A wide table that scrolls sideways on a phone: the scrolling box is reachable by keyboard and named. */
export function ScrollBox({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label={label}>
      {children}
    </div>
  );
}
