// R-24: a new instance: company → type → data → Provision (contract, still cancellable) → Generate.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { FormProvider, useForm } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams, useSearchParams } from "react-router-dom";

import { api, download, idempotencyKey, send, type Page } from "../../api/client";
import { apiQuery, invalidatePaths } from "../../api/queries";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Empty, ErrorState, Loading } from "../../components/states";
import { fieldError, formatDateTime, TYPES, type Company, type Contract, type Instance, type InstanceType } from "./api";
import { CompanyForm } from "./Companies";
import { ConfigurationForm, configurationFields, defaultConfiguration, type ConfigurationValues } from "./ConfigurationForm";
import { ProblemAlert, StatusBadge, TypeBadge } from "./parts";

type Step = "company" | "type" | "data";
interface DataValues extends ConfigurationValues {
  name: string;
  term_months: number;
}
const STEPS: Step[] = ["company", "type", "data"];

export function Wizard() {
  const { t } = useTranslation("instances");
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [step, setStep] = useState<Step>(params.get("company") ? "type" : "company");
  const [company, setCompany] = useState<Company | null>(null);
  const [companyId, setCompanyId] = useState<string>(params.get("company") ?? "");
  const [type, setType] = useState<InstanceType | null>(null);
  // The instance's data (step 3) lives across the steps; another type starts from its defaults.
  const form = useForm<DataValues>({ defaultValues: { name: "", term_months: 12, configuration: {} } });
  const [draftId, setDraftId] = useState<string | null>(null);

  const chooseType = (value: InstanceType) => {
    if (value !== type) {
      setType(value);
      form.setValue("configuration", defaultConfiguration(value));
      setDraftId(null);
    }
  };

  const provision = useMutation({
    mutationFn: async ({ values, type }: { values: DataValues; type: InstanceType }) => {
      const body = { name: values.name.trim(), term_months: values.term_months, configuration: values.configuration };
      let id = draftId;
      if (id) await api<Instance>(`/provisionings/${id}`, { method: "PATCH", body });
      else {
        const draft = await api<Instance>("/provisionings", { method: "POST", body: { ...body, company_id: companyId, type } });
        id = draft.id;
        setDraftId(id);
      }
      await api<Instance>(`/provisionings/${id}/provision`, { method: "POST" });
      return id;
    },
    onSuccess: (id) => {
      void invalidatePaths("/provisionings");
      navigate(`/instances/provisionings/${id}`);
    },
  });
  const busy = provision.isPending;
  const error = provision.error;
  const name = form.watch("name");

  const nameError = fieldError(error, "name");
  const termError = fieldError(error, "term_months");
  return (
    <section>
      <header className="section-header">
        <Link to="/instances">← {t("common:back")}</Link>
      </header>
      <h1>{t("wizard.title")}</h1>
      <ol className="steps" aria-label={t("wizard.steps")}>
        {[...STEPS, "contract"].map((s, i) => (
          <li key={s} aria-current={s === step ? "step" : undefined} className={s === step ? "current" : ""}>
            {i + 1}. {t(`wizard.step.${s}`)}
          </li>
        ))}
      </ol>
      {step === "company" && (
        <CompanyStep
          selected={companyId}
          onSelect={(chosen) => {
            setCompany(chosen);
            setCompanyId(chosen.id);
            setStep("type");
          }}
        />
      )}
      {step === "type" && (
        <div>
          <fieldset className="card type-choice">
            <legend>{t("wizard.chooseType")}</legend>
            {TYPES.map((value) => (
              <label key={value} className="check type-option">
                <input type="radio" name="type" value={value} checked={type === value} onChange={() => chooseType(value)} />
                <TypeBadge type={value} /> {t(`product.${value}`)}
              </label>
            ))}
          </fieldset>
          <div className="actions">
            <button type="button" onClick={() => setStep("company")}>
              {t("wizard.previous")}
            </button>
            <button type="button" className="primary" disabled={!type} onClick={() => setStep("data")}>
              {t("wizard.next")}
            </button>
          </div>
        </div>
      )}
      {step === "data" && type && (
        <FormProvider {...form}>
          <form
            onSubmit={(event) => void form.handleSubmit((values) => provision.mutate({ values, type }))(event)}
            noValidate
          >
            <p className="muted">
              {company?.name ?? companyId} · <TypeBadge type={type} />
            </p>
            <div className="card">
              <label>
                {t("wizard.name")}
                <input required maxLength={200} {...form.register("name")} aria-invalid={nameError ? true : undefined} />
                {nameError && <span className="field-error">{nameError}</span>}
              </label>
              <label>
                {t("wizard.term")}
                <input
                  type="number"
                  min={1}
                  max={120}
                  {...form.register("term_months", { setValueAs: Number })}
                  aria-invalid={termError ? true : undefined}
                />
                {termError && <span className="field-error">{termError}</span>}
              </label>
            </div>
            <ConfigurationForm type={type} error={error} />
            <ProblemAlert error={error} fields={["name", "term_months", ...configurationFields(type, error)]} />
            <p className="muted">{t("wizard.provisionHint")}</p>
            <div className="actions">
              <button type="button" onClick={() => setStep("type")}>
                {t("wizard.previous")}
              </button>
              <button type="submit" className="primary" disabled={busy || !name.trim()}>
                {t("wizard.provision")}
              </button>
            </div>
          </form>
        </FormProvider>
      )}
    </section>
  );
}

function CompanyStep(props: { selected: string; onSelect(company: Company): void }) {
  const { t } = useTranslation("instances");
  const [search, setSearch] = useState("");
  const [q, setQ] = useState("");
  const [creating, setCreating] = useState(false);
  const companies = useQuery(apiQuery<Page<Company>>("/companies", { q, limit: 50 }));
  return (
    <div>
      <div className="toolbar">
        <button type="button" onClick={() => setCreating((v) => !v)} aria-expanded={creating}>
          {t("company.new")}
        </button>
      </div>
      {creating ? (
        <CompanyForm onSaved={props.onSelect} onCancel={() => setCreating(false)} />
      ) : (
        <>
          <form
            className="toolbar"
            role="search"
            onSubmit={(event) => {
              event.preventDefault();
              setQ(search.trim());
            }}
          >
            <input
              type="search"
              aria-label={t("companies.searchLabel")}
              maxLength={100}
              value={search}
              onChange={(e) => setSearch(e.target.value)}
            />
            <button type="submit">{t("common:search")}</button>
          </form>
          {companies.error ? (
            <ErrorState error={companies.error} onRetry={() => void companies.refetch()} />
          ) : !companies.data ? (
            <Loading />
          ) : companies.data.items.length === 0 ? (
            <Empty>{t("companies.empty")}</Empty>
          ) : (
            <ul className="list" aria-label={t("wizard.chooseCompany")}>
              {companies.data.items.map((company) => (
                <li key={company.id}>
                  <button
                    type="button"
                    className="row"
                    aria-pressed={company.id === props.selected}
                    onClick={() => props.onSelect(company)}
                  >
                    <strong>{company.name}</strong> <span className="muted">{company.tax_id}</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </div>
  );
}

/** Steps 3–4 of R-24: the contract to read, then Cancel or Generate (irreversible). */
export function ProvisioningPage() {
  const { t, i18n } = useTranslation("instances");
  const { provisioningId = "" } = useParams();
  const navigate = useNavigate();
  const provisioning = useQuery(apiQuery<Instance>(`/provisionings/${provisioningId}`));
  const stage = provisioning.data?.stage;
  const contract = useQuery({
    ...apiQuery<Contract>(`/provisionings/${provisioningId}/contract`),
    enabled: stage === "provisioned",
  });
  const [dialog, setDialog] = useState<"cancel" | "generate" | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // One key per "Generate" click, kept across its retries: the instance is created once.
  const generateKey = useRef<string | null>(null);

  async function run(action: "cancel" | "generate" | "provision") {
    setBusy(true);
    setError(null);
    try {
      if (action === "generate") {
        generateKey.current ??= idempotencyKey();
        const created = await api<Instance>(`/provisionings/${provisioningId}/generate`, {
          method: "POST",
          headers: { "Idempotency-Key": generateKey.current },
        });
        void invalidatePaths("/instances", "/provisionings", "/views/instances", "/views/threads");
        navigate(`/instances/${created.id}`);
        return;
      }
      await api<Instance>(`/provisionings/${provisioningId}/${action}`, { method: "POST" });
      setDialog(null);
      void invalidatePaths(`/provisionings/${provisioningId}`);
    } catch (failure) {
      setError(failure);
      setDialog(null);
      void invalidatePaths(`/provisionings/${provisioningId}`);
    } finally {
      setBusy(false);
    }
  }

  async function openHtml() {
    const opened = window.open("", "_blank");
    try {
      const response = await send(`/provisionings/${provisioningId}/contract.html`, { headers: { Accept: "text/html" } });
      const blob = new Blob([await response.text()], { type: "text/html" });
      const link = URL.createObjectURL(blob);
      if (opened) opened.location.href = link;
      else window.location.href = link;
      setTimeout(() => URL.revokeObjectURL(link), 60_000);
    } catch (failure) {
      opened?.close();
      setError(failure);
    }
  }

  if (!provisioning.data)
    return provisioning.error ? <ErrorState error={provisioning.error} onRetry={() => void provisioning.refetch()} /> : <Loading />;
  const item = provisioning.data;
  const c = stage === "provisioned" ? contract.data : undefined;

  return (
    <section>
      <header className="section-header">
        <Link to="/instances">← {t("common:back")}</Link>
      </header>
      <h1>{t("wizard.contractTitle")}</h1>
      <p>
        <TypeBadge type={item.type} /> <strong>{item.name}</strong> <StatusBadge status={item.stage} kind="stage" />
      </p>
      <ProblemAlert error={error} />
      {item.stage === "cancelled" && (
        <p className="notice notice-warning" role="status">
          {t("wizard.cancelled")}
        </p>
      )}
      {item.stage === "generated" && (
        <p className="notice notice-ok" role="status">
          {t("wizard.generated")} <Link to={`/instances/${item.id}`}>{t("wizard.goToInstance")}</Link>
        </p>
      )}
      {item.stage === "draft" && (
        <>
          <p className="notice">{t("wizard.draft")}</p>
          <div className="actions">
            <button type="button" onClick={() => setDialog("cancel")} disabled={busy}>
              {t("wizard.cancel")}
            </button>
            <button type="button" className="primary" onClick={() => void run("provision")} disabled={busy}>
              {t("wizard.provision")}
            </button>
          </div>
        </>
      )}
      {item.stage === "provisioned" && (
        <>
          {contract.error ? (
            <ErrorState error={contract.error} onRetry={() => void contract.refetch()} />
          ) : !c ? (
            <Loading />
          ) : (
            <article className="card contract" aria-label={t("wizard.contract")}>
              <h2>{t("wizard.contractNumber", { number: c.number })}</h2>
              <dl className="details">
                <dt>{t("contract.issued")}</dt>
                <dd>{formatDateTime(c.issued_at, i18n.language)}</dd>
                <dt>{t("contract.vendor")}</dt>
                <dd>{c.vendor.name}</dd>
                <dt>{t("contract.customer")}</dt>
                <dd>
                  {c.customer.name} ({c.customer.tax_id})
                </dd>
                <dt>{t("contract.product")}</dt>
                <dd>
                  {c.product_name}
                  {c.profile ? ` · ${t(`option.profile.${c.profile}`)}` : ""}
                </dd>
                <dt>{t("contract.term")}</dt>
                <dd>{t("detail.months", { count: c.term_months })}</dd>
                <dt>{t("contract.seats")}</dt>
                <dd>{c.seats}</dd>
                <dt>{t("contract.unitPrice")}</dt>
                <dd>
                  {c.unit_price} {c.currency}
                </dd>
                <dt>{t("contract.monthly")}</dt>
                <dd>
                  {c.monthly_total} {c.currency}
                </dd>
                <dt>{t("contract.total")}</dt>
                <dd>
                  <strong>
                    {c.term_total} {c.currency}
                  </strong>
                </dd>
              </dl>
              <details>
                <summary>{t("contract.terms")}</summary>
                <p className="terms">{c.terms}</p>
              </details>
              <p className="toolbar">
                <button type="button" onClick={() => void openHtml()}>
                  {t("contract.html")}
                </button>
                <button
                  type="button"
                  onClick={() =>
                    void download(`/provisionings/${provisioningId}/contract.pdf`, undefined, `${c.number}.pdf`).catch(setError)
                  }
                >
                  {t("contract.pdf")}
                </button>
              </p>
            </article>
          )}
          <p className="muted">{t("wizard.generateHint")}</p>
          <div className="actions">
            <button type="button" onClick={() => setDialog("cancel")} disabled={busy}>
              {t("wizard.cancel")}
            </button>
            <button type="button" className="primary" onClick={() => setDialog("generate")} disabled={busy || !c}>
              {t("wizard.generate")}
            </button>
          </div>
        </>
      )}
      {dialog === "cancel" && (
        <ConfirmDialog
          open
          title={t("wizard.cancelTitle")}
          confirmLabel={t("wizard.cancel")}
          danger
          busy={busy}
          onConfirm={() => void run("cancel")}
          onCancel={() => setDialog(null)}
        >
          <p>{t("wizard.cancelQuestion")}</p>
        </ConfirmDialog>
      )}
      {dialog === "generate" && (
        <ConfirmDialog
          open
          title={t("wizard.generateTitle")}
          confirmLabel={t("wizard.generate")}
          busy={busy}
          onConfirm={() => void run("generate")}
          onCancel={() => setDialog(null)}
        >
          <p>{t("wizard.generateQuestion")}</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
