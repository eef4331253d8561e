// Small pieces shared by the screens of this section.
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { ConfirmDialog } from "../../components/ConfirmDialog";
import { formError } from "./api";

export function TypeBadge({ type }: { type: string }) {
  return <span className={`badge type type-${type.toLowerCase()}`}>{type}</span>;
}

export function StatusBadge({ status, kind = "status" }: { status: string | null; kind?: "status" | "license" | "stage" }) {
  const { t } = useTranslation("instances");
  if (!status) return null;
  return <span className={`badge ${status}`}>{t(`${kind}.${status}`)}</span>;
}

/** A form's error not tied to any of its fields (e.g. a 409 of the state machine). */
export function ProblemAlert({ error, fields = [] }: { error: unknown; fields?: string[] }) {
  const { t } = useTranslation();
  if (!error) return null;
  const text = error instanceof TypeError ? t("offline") : formError(error, fields);
  if (!text) return null;
  return (
    <p className="field-error" role="alert">
      {text}
    </p>
  );
}

/**
 * An irreversible action with a reason: first confirm, then give the reason and send.
 * `optional` lets the reason be empty (a release). Returns the dialogs to render and `start()`.
 */
export function useReasonFlow(props: {
  title: string;
  question: string;
  reasonLabel: string;
  optional?: boolean;
  danger?: boolean;
  send(reason: string): Promise<void>;
}) {
  const { t } = useTranslation("instances");
  const [step, setStep] = useState<"closed" | "confirm" | "reason">("closed");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const trimmed = reason.trim();
  const valid = props.optional ? trimmed.length === 0 || trimmed.length >= 3 : trimmed.length >= 3;

  async function submit() {
    setBusy(true);
    setError(null);
    try {
      await props.send(trimmed);
      setStep("closed");
      setReason("");
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  const dialogs = (
    <>
      {step === "confirm" && (
      <ConfirmDialog
        open
        title={props.title}
        confirmLabel={t("continue")}
        danger={props.danger}
        onConfirm={() => setStep("reason")}
        onCancel={() => setStep("closed")}
      >
        <p>{props.question}</p>
      </ConfirmDialog>
      )}
      {step === "reason" && (
      <ConfirmDialog
        open
        title={props.title}
        confirmLabel={t("send")}
        confirmDisabled={!valid}
        busy={busy}
        danger={props.danger}
        onConfirm={() => void submit()}
        onCancel={() => {
          setStep("closed");
          setError(null);
        }}
      >
        <label>
          {props.reasonLabel}
          <textarea
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            required={!props.optional}
            minLength={3}
            maxLength={2000}
            rows={3}
          />
          <span className="muted">{props.optional ? t("reasonOptionalHint") : t("reasonHint")}</span>
        </label>
        <ProblemAlert error={error} />
      </ConfirmDialog>
      )}
    </>
  );
  return { dialogs, start: () => setStep("confirm") };
}
