// edit an instance's data and its per-type configuration.
import { useEffect, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router-dom";

import { api } from "../../api/client";
import { useAsync } from "../../components/hooks";
import { ErrorState, Loading } from "../../components/states";
import { fieldError, isLive, mergePatch, type Configuration, type Instance } from "./api";
import { ConfigurationForm, configurationFields } from "./ConfigurationForm";
import { ProblemAlert } from "./parts";

export function EditInstance() {
  const { t } = useTranslation("instances");
  const { instanceId = "" } = useParams();
  const navigate = useNavigate();
  const loaded = useAsync((signal) => api<Instance>(`/instances/${instanceId}`, { signal }), [instanceId]);
  const [name, setName] = useState("");
  const [configuration, setConfiguration] = useState<Configuration>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (loaded.data) {
      setName(loaded.data.name);
      setConfiguration(loaded.data.configuration);
    }
  }, [loaded.data]);

  if (!loaded.data) return loaded.error ? <ErrorState error={loaded.error} onRetry={loaded.reload} /> : <Loading />;
  const instance = loaded.data;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // Only what was changed: a field the form did not touch keeps its stored value.
      const body = mergePatch(
        { name: instance.name, configuration: instance.configuration },
        { name: name.trim(), configuration },
      );
      await api<Instance>(`/instances/${instanceId}`, { method: "PATCH", body });
      navigate(`/instances/${instanceId}`);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
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
        <form className="card" onSubmit={(event) => void submit(event)} noValidate>
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
