import { useTranslation } from "react-i18next";
import { Route, Routes } from "react-router-dom";

import { HelpLink } from "../../components/HelpLink";

export default function InstancesRoutes() {
  return (
    <Routes>
      <Route index element={<InstancesHome />} />
    </Routes>
  );
}

function InstancesHome() {
  const { t } = useTranslation("instances");
  return (
    <section>
      <header className="section-header">
        <h1>{t("title")}</h1>
        <HelpLink section="instances" />
      </header>
    </section>
  );
}
