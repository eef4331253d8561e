import { useEffect, useId, useRef, type ReactNode } from "react";
import { useTranslation } from "react-i18next";

/** Asks before an irreversible action; `children` may hold a form field (e.g. a reason). */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children?: ReactNode;
  confirmLabel?: string;
  confirmDisabled?: boolean;
  danger?: boolean;
  busy?: boolean;
  onConfirm(): void;
  onCancel(): void;
}) {
  const { t } = useTranslation();
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId(); // several dialogs may be mounted on one page
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (props.open && !element.open) element.showModal();
    if (!props.open && element.open) element.close();
  }, [props.open]);
  return (
    <dialog ref={dialog} className="dialog" onCancel={props.onCancel} aria-labelledby={titleId}>
      <form
        method="dialog"
        onSubmit={(event) => {
          event.preventDefault();
          props.onConfirm();
        }}
      >
        <h2 id={titleId}>{props.title}</h2>
        {props.children}
        <div className="actions">
          <button type="button" onClick={props.onCancel}>
            {t("cancel")}
          </button>
          <button
            type="submit"
            className={props.danger ? "danger" : "primary"}
            disabled={props.confirmDisabled || props.busy}
          >
            {props.confirmLabel ?? t("confirm")}
          </button>
        </div>
      </form>
    </dialog>
  );
}
