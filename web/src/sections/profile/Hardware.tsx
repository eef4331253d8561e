import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import { download } from "../../api/client";
import { HelpLink } from "../../components/HelpLink";
import { apiQuery } from "../../api/queries";
import { Empty, ErrorState, Loading } from "../../components/states";

interface Labels {
  en: string;
  es: string;
}

interface HardwareTerminal {
  id: string;
  maker: string;
  model: string;
  os: string;
  os_label: string;
  os_versions: string[];
  tested_app_version: string;
  features: Record<string, { support: string; note?: string | null }>;
}

interface HardwareList {
  version: string;
  updated: string;
  total: number;
  features: { key: string; labels: Labels }[];
  support_levels: { key: string; labels: Labels }[];
  makers: string[];
  items: HardwareTerminal[];
}

interface Filters {
  maker: string;
  os: string;
  feature: string;
  q: string;
}

const NO_FILTERS: Filters = { maker: "", os: "", feature: "", q: "" };
const SUPPORT_CLASS: Record<string, string> = { supported: "active", partial: "released", unsupported: "revoked" };

/** Working Day Suite hardware features per tested terminal, filterable, downloadable as a PDF. */
export function HardwarePage() {
  const { t, i18n } = useTranslation("profile");
  const language: keyof Labels = i18n.language === "en" ? "en" : "es";
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [text, setText] = useState("");
  const [downloading, setDownloading] = useState(false);
  const [downloadError, setDownloadError] = useState<unknown>(undefined);
  const list = useQuery(apiQuery<HardwareList>("/hardware", { ...filters }));

  function change(field: keyof Filters, value: string) {
    setFilters((previous) => ({ ...previous, [field]: value }));
  }

  function search(event: FormEvent) {
    event.preventDefault();
    change("q", text.trim());
  }

  async function pdf() {
    setDownloading(true);
    setDownloadError(undefined);
    try {
      await download("/hardware.pdf", { ...filters, lang: language }, "hardware-compatibility.pdf");
    } catch (failure) {
      setDownloadError(failure);
    } finally {
      setDownloading(false);
    }
  }

  const data = list.data;
  const label = (labels: Labels) => labels[language] || labels.en;
  const levels = Object.fromEntries((data?.support_levels ?? []).map((level) => [level.key, label(level.labels)]));
  const filtered = Object.values(filters).some(Boolean);

  return (
    <section className="profile-page">
      <header className="section-header">
        <h1>{t("hardware.title")}</h1>
        <HelpLink section="profile" />
      </header>
      <p>
        <Link to="/profile">{t("back")}</Link>
      </p>
      <p className="muted">{t("hardware.intro")}</p>
      <form className="card profile-hardware-filters" onSubmit={search} role="search">
        <label>
          {t("hardware.maker")}
          <select value={filters.maker} onChange={(event) => change("maker", event.target.value)}>
            <option value="">{t("hardware.any")}</option>
            {(data?.makers ?? []).map((maker) => (
              <option key={maker} value={maker}>
                {maker}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("hardware.os")}
          <select value={filters.os} onChange={(event) => change("os", event.target.value)}>
            <option value="">{t("hardware.any")}</option>
            <option value="android">Android</option>
            <option value="ios">iOS</option>
          </select>
        </label>
        <label>
          {t("hardware.feature")}
          <select value={filters.feature} onChange={(event) => change("feature", event.target.value)}>
            <option value="">{t("hardware.anyFeature")}</option>
            {(data?.features ?? []).map((feature) => (
              <option key={feature.key} value={feature.key}>
                {label(feature.labels)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("hardware.q")}
          <input type="search" value={text} maxLength={100} onChange={(event) => setText(event.target.value)} />
        </label>
        <div className="actions">
          {filtered && (
            <button
              type="button"
              onClick={() => {
                setText("");
                setFilters(NO_FILTERS);
              }}
            >
              {t("hardware.clear")}
            </button>
          )}
          <button type="submit">{t("hardware.filter")}</button>
          <button type="button" className="primary" onClick={() => void pdf()} disabled={downloading}>
            {downloading ? t("hardware.downloading") : t("hardware.download")}
          </button>
        </div>
        {downloadError !== undefined && <ErrorState error={downloadError} />}
      </form>
      {list.isPending && <Loading />}
      {list.error && <ErrorState error={list.error} onRetry={() => void list.refetch()} />}
      {data && (
        <>
          <p className="muted" role="status">
            {t("hardware.edition", {
              version: data.version,
              date: new Intl.DateTimeFormat(language, { dateStyle: "medium" }).format(new Date(data.updated)),
              shown: data.items.length,
              total: data.total,
            })}
          </p>
          {data.items.length === 0 ? (
            <Empty>{t("hardware.none")}</Empty>
          ) : (
            <ul className="profile-hardware" aria-label={t("hardware.title")}>
              {data.items.map((terminal) => (
                <li key={terminal.id} className="card">
                  <h2>
                    {terminal.maker} {terminal.model}
                  </h2>
                  <p className="muted">
                    {t("hardware.versions")}: {terminal.os_label} {terminal.os_versions.join(", ")} ·{" "}
                    {t("hardware.app")}: {terminal.tested_app_version}
                  </p>
                  <dl className="profile-features" aria-label={t("hardware.features")}>
                    {data.features.map((feature) => {
                      const result = terminal.features[feature.key];
                      return (
                        <div key={feature.key}>
                          <dt>{label(feature.labels)}</dt>
                          <dd>
                            <span className={`badge ${SUPPORT_CLASS[result?.support ?? ""] ?? ""}`}>
                              {result ? (levels[result.support] ?? result.support) : "—"}
                            </span>
                            {result?.note && <span className="muted profile-note">{result.note}</span>}
                          </dd>
                        </div>
                      );
                    })}
                  </dl>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
