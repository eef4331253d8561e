// the partner's companies (customers): list, detail, edit; the form is shared with the wizard.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { get, useForm, type Path } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router-dom";

import { api, type Page } from "../../api/client";
import { apiQuery, invalidatePaths, usePagedQuery } from "../../api/queries";
import { Empty, ErrorState, Loading } from "../../components/states";
import { fieldError, formatDate, type Company, type Instance } from "./api";
import { ProblemAlert, StatusBadge, TypeBadge } from "./parts";

const FIELDS = [
  "name",
  "tax_id",
  "address.street",
  "address.city",
  "address.postal_code",
  "address.province",
  "contact_person",
  "email",
  "phone",
] as const satisfies readonly Path<Values>[];
type FieldName = (typeof FIELDS)[number];

interface Values {
  name: string;
  tax_id: string;
  address: { street: string; city: string; postal_code: string; province: string };
  contact_person: string;
  email: string;
  phone: string;
}

function valuesOf(company?: Company): Values {
  return {
    name: company?.name ?? "",
    tax_id: company?.tax_id ?? "",
    address: {
      street: company?.address.street ?? "",
      city: company?.address.city ?? "",
      postal_code: company?.address.postal_code ?? "",
      province: company?.address.province ?? "",
    },
    contact_person: company?.contact_person ?? "",
    email: company?.email ?? "",
    phone: company?.phone ?? "",
  };
}

function bodyOf(values: Values, country?: string) {
  const { address } = values;
  return {
    name: values.name.trim(),
    tax_id: values.tax_id.trim(),
    address: {
      street: address.street.trim(),
      city: address.city.trim(),
      postal_code: address.postal_code.trim(),
      province: address.province.trim(),
      ...(country ? { country } : {}),
    },
    contact_person: values.contact_person.trim(),
    email: values.email.trim(),
    phone: values.phone.trim(),
  };
}

const INPUT_TYPES: Partial<Record<FieldName, string>> = { email: "email", phone: "tel" };

/** Creates (no `company`) or edits a company; calls `onSaved` with the stored company. The service
 * validates: its problems show next to the fields they name. */
export function CompanyForm(props: { company?: Company; onSaved(company: Company): void; onCancel?(): void }) {
  const { t } = useTranslation("instances");
  const { register, handleSubmit, watch } = useForm<Values>({ defaultValues: valuesOf(props.company) });
  const save = useMutation({
    mutationFn: (values: Values) =>
      props.company
        ? api<Company>(`/companies/${props.company.id}`, {
            method: "PATCH",
            body: bodyOf(values, props.company.address.country),
          })
        : api<Company>("/companies", { method: "POST", body: bodyOf(values) }),
    onSuccess: (saved) => {
      void invalidatePaths("/companies", "/views/threads");
      props.onSaved(saved);
    },
  });
  const error = save.error;

  const values = watch();
  const complete = FIELDS.every((name) => String(get(values, name) ?? "").trim() !== "");
  return (
    <form
      className="card"
      onSubmit={(event) => void handleSubmit((submitted) => save.mutate(submitted))(event)}
      noValidate
      aria-label={t("company.formLabel")}
    >
      {FIELDS.map((name) => {
        const problem = fieldError(error, name);
        return (
          <label key={name}>
            {t(`company.${name}`)}
            <input
              type={INPUT_TYPES[name] ?? "text"}
              required
              {...register(name)}
              aria-invalid={problem ? true : undefined}
            />
            {problem && <span className="field-error">{problem}</span>}
          </label>
        );
      })}
      <ProblemAlert error={error} fields={[...FIELDS, "address"]} />
      <div className="actions">
        {props.onCancel && (
          <button type="button" onClick={props.onCancel}>
            {t("common:cancel")}
          </button>
        )}
        <button type="submit" className="primary" disabled={save.isPending || !complete}>
          {props.company ? t("common:save") : t("company.create")}
        </button>
      </div>
    </form>
  );
}

export function CompanyList() {
  const { t } = useTranslation("instances");
  const [search, setSearch] = useState("");
  const [q, setQ] = useState("");
  const [creating, setCreating] = useState(false);
  const list = usePagedQuery(["/companies", { q, limit: 20 }], (cursor, signal) =>
    api<Page<Company>>("/companies", { query: { q, cursor, limit: 20 }, signal }),
  );
  return (
    <section>
      <header className="section-header">
        <Link to="/instances">← {t("common:back")}</Link>
      </header>
      <h1>{t("companies.title")}</h1>
      <div className="toolbar">
        <button type="button" className="primary" onClick={() => setCreating((v) => !v)} aria-expanded={creating}>
          {t("company.new")}
        </button>
      </div>
      {creating && (
        <CompanyForm
          onSaved={() => setCreating(false)}
          onCancel={() => setCreating(false)}
        />
      )}
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
      {list.error ? (
        <ErrorState error={list.error} onRetry={list.reload} />
      ) : list.items.length === 0 && !list.loading ? (
        <Empty>{t("companies.empty")}</Empty>
      ) : (
        <ul className="list" aria-label={t("companies.title")}>
          {list.items.map((company) => (
            <li key={company.id}>
              <Link to={`/instances/companies/${company.id}`} className="instance-row">
                <strong>{company.name}</strong>
                <span className="muted">
                  {company.tax_id} · {company.address.city}
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
      {list.loading && <Loading />}
      {list.hasMore && !list.loading && (
        <div className="actions center">
          <button type="button" onClick={list.loadMore}>
            {t("common:loadMore")}
          </button>
        </div>
      )}
    </section>
  );
}

export function CompanyDetail() {
  const { t, i18n } = useTranslation("instances");
  const { companyId = "" } = useParams();
  const company = useQuery(apiQuery<Company>(`/companies/${companyId}`));
  const instances = useQuery(apiQuery<Page<Instance>>("/instances", { company_id: companyId, limit: 50 }));
  const [editing, setEditing] = useState(false);
  if (!company.data) return company.error ? <ErrorState error={company.error} onRetry={() => void company.refetch()} /> : <Loading />;
  const c = company.data;
  return (
    <section>
      <header className="section-header">
        <Link to="/instances/companies">← {t("companies.title")}</Link>
        {!editing && (
          <button type="button" onClick={() => setEditing(true)}>
            {t("company.edit")}
          </button>
        )}
      </header>
      <h1>{c.name}</h1>
      {editing ? (
        <CompanyForm
          company={c}
          onSaved={() => setEditing(false)}
          onCancel={() => setEditing(false)}
        />
      ) : (
        <div className="card">
          <dl className="details">
            <dt>{t("company.tax_id")}</dt>
            <dd>{c.tax_id}</dd>
            <dt>{t("company.fullAddress")}</dt>
            <dd>
              {[c.address.street, `${c.address.postal_code} ${c.address.city}`, c.address.province, c.address.country]
                .filter(Boolean)
                .join(", ")}
            </dd>
            <dt>{t("company.contact_person")}</dt>
            <dd>{c.contact_person}</dd>
            <dt>{t("company.email")}</dt>
            <dd>
              <a href={`mailto:${c.email}`}>{c.email}</a>
            </dd>
            <dt>{t("company.phone")}</dt>
            <dd>
              <a href={`tel:${c.phone}`}>{c.phone}</a>
            </dd>
            <dt>{t("company.since")}</dt>
            <dd>{formatDate(c.created_at, i18n.language)}</dd>
          </dl>
        </div>
      )}
      <h2>{t("company.instances")}</h2>
      {instances.error ? (
        <ErrorState error={instances.error} onRetry={() => void instances.refetch()} />
      ) : !instances.data ? (
        <Loading />
      ) : instances.data.items.length === 0 ? (
        <Empty>{t("empty")}</Empty>
      ) : (
        <ul className="list">
          {instances.data.items.map((instance) => (
            <li key={instance.id}>
              <Link to={`/instances/${instance.id}`} className="instance-row">
                <span>
                  <TypeBadge type={instance.type} /> {instance.name}
                </span>
                <StatusBadge status={instance.status} />
              </Link>
            </li>
          ))}
        </ul>
      )}
      <p>
        <Link className="button" to={`/instances/new?company=${c.id}`}>
          {t("new")}
        </Link>
      </p>
    </section>
  );
}
