// Spanish and English (the user's profile chooses; Spanish first, as the original product).
// Each section keeps its own texts beside it (`sections/<name>/texts.ts`) under its namespace.
import i18n from "i18next";
import { initReactI18next } from "react-i18next";

import activity from "../sections/activity/texts";
import instances from "../sections/instances/texts";
import profile from "../sections/profile/texts";
import reports from "../sections/reports/texts";
import support from "../sections/support/texts";
import common from "./common";

export const LANGUAGES = ["es", "en"] as const;
export type Language = (typeof LANGUAGES)[number];

const namespaces = { common, support, instances, reports, activity, profile };

const resources = Object.fromEntries(
  LANGUAGES.map((language) => [
    language,
    Object.fromEntries(Object.entries(namespaces).map(([name, texts]) => [name, texts[language]])),
  ]),
);

const stored = localStorage.getItem("partnerapp.language");
void i18n.use(initReactI18next).init({
  resources,
  lng: stored === "en" || stored === "es" ? stored : navigator.language.startsWith("en") ? "en" : "es",
  fallbackLng: "es",
  defaultNS: "common",
  interpolation: { escapeValue: false }, // React escapes
});
// The page's language and description follow the UI's, from the start (init above may already have chosen English).
function applyToPage(language: string) {
  document.documentElement.lang = language;
  document.querySelector('meta[name="description"]')?.setAttribute("content", i18n.t("description"));
}
applyToPage(i18n.language);
i18n.on("languageChanged", (language) => {
  localStorage.setItem("partnerapp.language", language);
  applyToPage(language);
});

export default i18n;
