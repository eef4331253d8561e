import { useTranslation } from "react-i18next";
import { Route, Routes } from "react-router-dom";

import { HelpLink } from "../../components/HelpLink";

export default function SupportRoutes() {
  return (
    <Routes>
      <Route index element={<SupportHome />} />
    </Routes>
  );
}

function SupportHome() {
  const { t } = useTranslation("support");
  return (
    <section>
      <header className="section-header">
        <h1>{t("title")}</h1>
        <HelpLink section="support" />
      </header>
    </section>
  );
}
