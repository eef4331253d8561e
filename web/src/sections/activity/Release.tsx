import { useState } from "react";
import { useTranslation } from "react-i18next";

import { api, ApiError, uiLanguage } from "../../api/client";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { problemSlug } from "./model";

/** frees the license bound to the record's terminal, after a confirmation with an optional reason. */
export function ReleaseLicense(props: {
  recordId: string;
  serial: string;
  pin: string;
  onReleased(): void;
}) {
  const { t } = useTranslation("activity");
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ reason?: string; general?: string } | null>(null);

  const trimmed = reason.trim();
  const tooShort = trimmed.length > 0 && trimmed.length < 3;

  async function release() {
    setBusy(true);
    setError(null);
    try {
      await api(`/activity/records/${encodeURIComponent(props.recordId)}/release-license`, {
        method: "POST",
        body: { reason: trimmed || null },
      });
      setOpen(false);
      setReason("");
      props.onReleased();
    } catch (failure) {
      if (failure instanceof ApiError) {
        const fieldMessage = failure.fieldError("reason");
        if (fieldMessage) {
          setError({ reason: fieldMessage });
        } else {
          const refusals = t("release.refused", { returnObjects: true }) as Record<string, string>;
          const slug = problemSlug(failure.problem.type);
          const known = failure.status === 409 && slug ? refusals[slug] : undefined;
          // The service's detail is English: it is added only for an English reader.
          const detail = uiLanguage() === "en" ? ` (${failure.message})` : "";
          setError({ general: known ? `${known}${detail}` : failure.readable || t("release.failed") });
          setOpen(false);
        }
      } else {
        setError({ general: t("release.failed") });
        setOpen(false);
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <button type="button" className="danger" onClick={() => setOpen(true)}>
        {t("release.button")}
      </button>
      {error?.general && (
        <p className="field-error release-error" role="alert">
          {error.general}
        </p>
      )}
      <ConfirmDialog
        open={open}
        title={t("release.title")}
        confirmLabel={t("release.confirm")}
        danger
        busy={busy}
        confirmDisabled={tooShort}
        onConfirm={() => void release()}
        onCancel={() => {
          setOpen(false);
          setError(null);
        }}
      >
        <p>{t("release.explain", { pin: props.pin, serial: props.serial })}</p>
        <label>
          {t("release.reason")}
          <textarea
            value={reason}
            maxLength={2000}
            rows={3}
            onChange={(event) => setReason(event.target.value)}
            aria-invalid={tooShort || Boolean(error?.reason)}
          />
        </label>
        {(tooShort || error?.reason) && (
          <p className="field-error" role="alert">
            {error?.reason ?? t("release.reasonTooShort")}
          </p>
        )}
      </ConfirmDialog>
    </>
  );
}
