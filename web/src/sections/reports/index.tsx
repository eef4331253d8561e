import { useTranslation } from "react-i18next";
import { Route, Routes } from "react-router-dom";

import { HelpLink } from "../../components/HelpLink";

export default function ReportsRoutes() {
  return (
    <Routes>
      <Route index element={<ReportsHome />} />
    </Routes>
  );
}

function ReportsHome() {
  const { t } = useTranslation("reports");
  return (
    <section>
      <header className="section-header">
        <h1>{t("title")}</h1>
        <HelpLink section="reports" />
      </header>
    </section>
  );
}
