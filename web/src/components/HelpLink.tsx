import { useTranslation } from "react-i18next";

export type Section = "support" | "instances" | "reports" | "activity" | "profile";

/** every section links to its tutorial page (served with the app, in both languages). */
export function HelpLink({ section }: { section: Section }) {
  const { t, i18n } = useTranslation();
  return (
    <a className="help-link" href={`/help/${section}.${i18n.language === "en" ? "en" : "es"}.html`} target="_blank" rel="noopener">
      {t("help")}
    </a>
  );
}
