import { useTranslation } from "react-i18next";
import { Route, Routes } from "react-router-dom";

import { HelpLink } from "../../components/HelpLink";

export default function ActivityRoutes() {
  return (
    <Routes>
      <Route index element={<ActivityHome />} />
    </Routes>
  );
}

function ActivityHome() {
  const { t } = useTranslation("activity");
  return (
    <section>
      <header className="section-header">
        <h1>{t("title")}</h1>
        <HelpLink section="activity" />
      </header>
    </section>
  );
}
