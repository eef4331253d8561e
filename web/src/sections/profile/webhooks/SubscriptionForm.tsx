// Creates a subscription (no `subscription`) or edits one: URL, event types by family, an optional
// instance, a description. The gateway validates; its problems show at the fields they name.
import { useMutation } from "@tanstack/react-query";
import { useRef } from "react";
import { Controller, useForm } from "react-hook-form";
import { useTranslation } from "react-i18next";

import { api, idempotencyKey } from "../../../api/client";
import { invalidatePaths } from "../../../api/queries";
import { Loading } from "../../../components/states";
import { EventTypeGroups, formProblem, problemAt, useEventTypes, useInstances, WEBHOOKS } from "./shared";
import {
  MAX_DESCRIPTION,
  type CreatedSubscription,
  type Subscription,
  type SubscriptionCreate,
  type SubscriptionPatch,
} from "./types";

interface Values {
  url: string;
  event_types: string[];
  instance_id: string;
  description: string;
  active: boolean;
}

const FIELDS = ["url", "event_types", "instance_id", "description", "active"] as const;

function valuesOf(subscription?: Subscription): Values {
  return {
    url: subscription?.url ?? "",
    event_types: subscription?.event_types ?? [],
    instance_id: subscription?.instance_id ?? "",
    description: subscription?.description ?? "",
    active: subscription ? subscription.status === "active" : true,
  };
}

/** The merge patch of an edit: only the fields that changed. */
function patchOf(before: Subscription, values: Values): SubscriptionPatch {
  const patch: SubscriptionPatch = {};
  if (values.url.trim() !== before.url) patch.url = values.url.trim();
  const types = [...values.event_types].sort();
  if (JSON.stringify(types) !== JSON.stringify([...before.event_types].sort())) patch.event_types = values.event_types;
  if ((values.instance_id || null) !== before.instance_id) patch.instance_id = values.instance_id || null;
  if (values.description.trim() !== before.description) patch.description = values.description.trim();
  return patch;
}

export function SubscriptionForm(props: {
  partnerId: string;
  subscription?: Subscription;
  onCreated?(created: CreatedSubscription): void;
  onSaved?(saved: Subscription): void;
  onCancel(): void;
}) {
  const { t } = useTranslation("profile");
  const editing = props.subscription;
  const catalogue = useEventTypes();
  const instances = useInstances();
  // One key per subscription being created: a retried submit (a lost answer) creates it once.
  const key = useRef<string | null>(null);
  const {
    register,
    handleSubmit,
    control,
    formState: { errors, isDirty },
  } = useForm<Values>({ defaultValues: valuesOf(editing) });

  const save = useMutation({
    mutationFn: async (values: Values): Promise<Subscription> => {
      if (editing) {
        return api<Subscription>(`${WEBHOOKS}/${editing.id}`, {
          method: "PATCH",
          body: patchOf(editing, values),
          headers: { "Content-Type": "application/merge-patch+json" },
        });
      }
      const body: SubscriptionCreate = {
        partner_id: props.partnerId,
        url: values.url.trim(),
        event_types: values.event_types,
        instance_id: values.instance_id || null,
        description: values.description.trim(),
        active: values.active,
      };
      key.current ??= idempotencyKey();
      return api<CreatedSubscription>(WEBHOOKS, { method: "POST", body, headers: { "Idempotency-Key": key.current } });
    },
    onSuccess: (saved) => {
      void invalidatePaths(WEBHOOKS);
      if (editing) props.onSaved?.(saved);
      else {
        key.current = null;
        props.onCreated?.(saved as CreatedSubscription);
      }
    },
  });

  const message = (field: (typeof FIELDS)[number]) => errors[field]?.message || problemAt(save.error, field);
  const described = (field: string, problem?: string, hint?: string) => ({
    "aria-invalid": problem ? true : undefined,
    "aria-describedby": [hint, problem ? `webhook-${field}-error` : undefined].filter(Boolean).join(" ") || undefined,
  });
  const urlError = message("url");
  const typesError = message("event_types");
  const instanceError = message("instance_id");
  const descriptionError = message("description");
  const general = formProblem(save.error, [...FIELDS], t("common:offline"));

  if (catalogue.isPending) return <Loading />;
  return (
    <form
      className="card webhook-form"
      noValidate
      aria-labelledby="webhook-form-title"
      onSubmit={(event) => void handleSubmit((values) => save.mutate(values))(event)}
    >
      <h2 id="webhook-form-title">{editing ? t("webhooks.form.editTitle") : t("webhooks.form.createTitle")}</h2>
      <label>
        {t("webhooks.form.url")}
        <input
          type="url"
          inputMode="url"
          autoComplete="url"
          spellCheck={false}
          maxLength={2048}
          {...register("url", { validate: (value) => value.trim() !== "" || t("webhooks.form.urlRequired") })}
          {...described("url", urlError, "webhook-url-hint")}
        />
      </label>
      <p className="muted profile-hint" id="webhook-url-hint">
        {t("webhooks.form.urlHint")}
      </p>
      {urlError && (
        <p className="field-error" id="webhook-url-error">
          {urlError}
        </p>
      )}
      {catalogue.error ? (
        <p className="field-error" role="alert">
          {t("webhooks.form.catalogueFailed")}
        </p>
      ) : (
        <Controller
          control={control}
          name="event_types"
          rules={{ validate: (value) => value.length > 0 || t("webhooks.form.eventTypesRequired") }}
          render={({ field }) => (
            <EventTypeGroups
              items={catalogue.data?.items ?? []}
              selected={field.value}
              onChange={field.onChange}
              error={typesError}
              errorId="webhook-event_types-error"
            />
          )}
        />
      )}
      <label>
        {t("webhooks.form.instance")}
        <select {...register("instance_id")} {...described("instance_id", instanceError)}>
          <option value="">{t("webhooks.form.anyInstance")}</option>
          {(instances.data?.items ?? []).map((instance) => (
            <option key={instance.id} value={instance.id}>
              {instance.name} ({instance.type})
            </option>
          ))}
          {editing?.instance_id && !instances.data?.items.some((instance) => instance.id === editing.instance_id) && (
            <option value={editing.instance_id}>{editing.instance_id}</option>
          )}
        </select>
      </label>
      {instanceError && (
        <p className="field-error" id="webhook-instance_id-error">
          {instanceError}
        </p>
      )}
      <label>
        {t("webhooks.form.description")}
        <input
          maxLength={MAX_DESCRIPTION}
          {...register("description")}
          {...described("description", descriptionError)}
        />
      </label>
      {descriptionError && (
        <p className="field-error" id="webhook-description-error">
          {descriptionError}
        </p>
      )}
      {!editing && (
        <label className="profile-switch">
          <input type="checkbox" {...register("active")} />
          {t("webhooks.form.active")}
        </label>
      )}
      {general && (
        <p className="field-error" role="alert">
          {general}
        </p>
      )}
      <div className="actions">
        <button type="button" onClick={props.onCancel}>
          {t("common:cancel")}
        </button>
        <button type="submit" className="primary" disabled={save.isPending || (editing !== undefined && !isDirty)}>
          {save.isPending ? t("webhooks.form.saving") : editing ? t("common:save") : t("webhooks.form.create")}
        </button>
      </div>
    </form>
  );
}
