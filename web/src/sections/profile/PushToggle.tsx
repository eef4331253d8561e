import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import { ApiError } from "../../api/client";
import { currentPushState, disablePush, enablePush, type PushState } from "./push";

/** support notifications on this device; explains why when the browser cannot have them. */
export function PushToggle() {
  const { t } = useTranslation("profile");
  const [state, setState] = useState<PushState>("checking");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    currentPushState().then(
      (found) => live && setState(found),
      () => live && setState("no-worker"),
    );
    return () => {
      live = false;
    };
  }, []);

  async function toggle(on: boolean) {
    setBusy(true);
    setError(null);
    try {
      setState(on ? await enablePush() : await disablePush());
    } catch (failure) {
      const reason =
        failure instanceof ApiError ? failure.readable : failure instanceof Error ? failure.message : String(failure);
      setError(t("push.failed", { reason }));
      setState(await currentPushState().catch((): PushState => "off"));
    } finally {
      setBusy(false);
    }
  }

  const available = state === "on" || state === "off";
  const explanation: Partial<Record<PushState, string>> = {
    checking: t("push.checking"),
    unsupported: t("push.unsupported"),
    insecure: t("push.insecure"),
    denied: t("push.denied"),
    "no-worker": t("push.noWorker"),
  };
  return (
    <section className="card" aria-labelledby="push-title">
      <h2 id="push-title">{t("push.title")}</h2>
      <p className="muted">{t("push.explain")}</p>
      <label className="profile-switch">
        <input
          type="checkbox"
          role="switch"
          checked={state === "on"}
          disabled={!available || busy}
          onChange={(event) => void toggle(event.target.checked)}
        />
        <span>{t("push.toggle")}</span>
      </label>
      <p className={available || state === "checking" ? "muted" : "notice notice-warning"} role="status" data-testid="push-status">
        {available ? (state === "on" ? t("push.on") : t("push.off")) : explanation[state]}
      </p>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
