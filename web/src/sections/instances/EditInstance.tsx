// edit an instance's data and its per-type configuration.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { FormProvider, useForm } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router-dom";

import { api } from "../../api/client";
import { apiQuery, invalidatePaths } from "../../api/queries";
import { ErrorState, Loading } from "../../components/states";
import { fieldError, isLive, mergePatch, type Instance } from "./api";
import { ConfigurationForm, configurationFields, type ConfigurationValues } from "./ConfigurationForm";
import { ProblemAlert } from "./parts";

interface EditValues extends ConfigurationValues {
  name: string;
}

export function EditInstance() {
  const { t } = useTranslation("instances");
  const { instanceId = "" } = useParams();
  const loaded = useQuery(apiQuery<Instance>(`/instances/${instanceId}`));
  // The form starts from the instance as read when it opened (not a cached copy), and keeps that
  // copy as the base of its patch: a refetch meanwhile (another user's change) edits neither.
  const [opened, setOpened] = useState<Instance | null>(null);
  if (opened === null && loaded.data && loaded.isFetchedAfterMount && !loaded.isFetching) setOpened(loaded.data);

  if (!opened) return loaded.error ? <ErrorState error={loaded.error} onRetry={() => void loaded.refetch()} /> : <Loading />;
  return (
    <section>
      <header className="section-header">
        <Link to={`/instances/${instanceId}`}>← {t("common:back")}</Link>
      </header>
      <h1>{t("edit.title", { name: opened.name })}</h1>
      {!isLive(opened) ? <p className="notice notice-warning">{t("edit.notLive")}</p> : <EditForm instance={opened} />}
    </section>
  );
}

function EditForm({ instance }: { instance: Instance }) {
  const { t } = useTranslation("instances");
  const navigate = useNavigate();
  const form = useForm<EditValues>({ defaultValues: { name: instance.name, configuration: instance.configuration } });
  const save = useMutation({
    // Only what was changed: a field the form did not touch keeps its stored value.
    mutationFn: (values: EditValues) =>
      api<Instance>(`/instances/${instance.id}`, {
        method: "PATCH",
        body: mergePatch(
          { name: instance.name, configuration: instance.configuration },
          { name: values.name.trim(), configuration: values.configuration },
        ),
      }),
    onSuccess: () => {
      void invalidatePaths("/instances", "/views/instances", "/views/threads");
      navigate(`/instances/${instance.id}`);
    },
  });
  const error = save.error;
  const nameError = fieldError(error, "name");
  const name = form.watch("name");
  return (
    <FormProvider {...form}>
      <form className="card" onSubmit={(event) => void form.handleSubmit((values) => save.mutate(values))(event)} noValidate>
        <label>
          {t("edit.name")}
          <input required maxLength={200} {...form.register("name")} aria-invalid={nameError ? true : undefined} />
          {nameError && <span className="field-error">{nameError}</span>}
        </label>
        <ConfigurationForm type={instance.type} error={error} />
        <ProblemAlert error={error} fields={["name", ...configurationFields(instance.type, error)]} />
        <div className="actions">
          <Link className="button" to={`/instances/${instance.id}`}>
            {t("common:cancel")}
          </Link>
          <button type="submit" className="primary" disabled={save.isPending || !name.trim()}>
            {t("common:save")}
          </button>
        </div>
      </form>
    </FormProvider>
  );
}
