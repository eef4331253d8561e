// edit an instance's data and its per-type configuration.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router-dom";

import { api } from "../../api/client";
import { apiQuery, invalidatePaths } from "../../api/queries";
import { ErrorState, Loading } from "../../components/states";
import { fieldError, isLive, mergePatch, type Configuration, type Instance } from "./api";
import { ConfigurationForm, configurationFields } from "./ConfigurationForm";
import { ProblemAlert } from "./parts";

export function EditInstance() {
  const { t } = useTranslation("instances");
  const { instanceId = "" } = useParams();
  const navigate = useNavigate();
  const loaded = useQuery(apiQuery<Instance>(`/instances/${instanceId}`));
  // The form starts from the instance as read when it opened (not a cached copy), and keeps that
  // copy as the base of its patch: a refetch meanwhile (another user's change) edits neither.
  const [opened, setOpened] = useState<Instance | null>(null);
  const [name, setName] = useState("");
  const [configuration, setConfiguration] = useState<Configuration>({});
  if (opened === null && loaded.data && loaded.isFetchedAfterMount && !loaded.isFetching) {
    setOpened(loaded.data);
    setName(loaded.data.name);
    setConfiguration(loaded.data.configuration);
  }
  const save = useMutation({
    // Only what was changed: a field the form did not touch keeps its stored value.
    mutationFn: (base: Instance) =>
      api<Instance>(`/instances/${instanceId}`, {
        method: "PATCH",
        body: mergePatch({ name: base.name, configuration: base.configuration }, { name: name.trim(), configuration }),
      }),
    onSuccess: () => {
      void invalidatePaths("/instances", "/views/instances", "/views/threads");
      navigate(`/instances/${instanceId}`);
    },
  });

  if (!opened) return loaded.error ? <ErrorState error={loaded.error} onRetry={() => void loaded.refetch()} /> : <Loading />;
  const instance = opened;
  const busy = save.isPending;
  const error = save.error;

  function submit(event: FormEvent) {
    event.preventDefault();
    save.mutate(instance);
  }

  const nameError = fieldError(error, "name");
  return (
    <section>
      <header className="section-header">
        <Link to={`/instances/${instanceId}`}>← {t("common:back")}</Link>
      </header>
      <h1>{t("edit.title", { name: instance.name })}</h1>
      {!isLive(instance) ? (
        <p className="notice notice-warning">{t("edit.notLive")}</p>
      ) : (
        <form className="card" onSubmit={submit} noValidate>
          <label>
            {t("edit.name")}
            <input
              required
              maxLength={200}
              value={name}
              onChange={(e) => setName(e.target.value)}
              aria-invalid={nameError ? true : undefined}
            />
            {nameError && <span className="field-error">{nameError}</span>}
          </label>
          <ConfigurationForm type={instance.type} value={configuration} onChange={setConfiguration} error={error} />
          <ProblemAlert error={error} fields={["name", ...configurationFields(instance.type, error)]} />
          <div className="actions">
            <Link className="button" to={`/instances/${instanceId}`}>
              {t("common:cancel")}
            </Link>
            <button type="submit" className="primary" disabled={busy || !name.trim()}>
              {t("common:save")}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
