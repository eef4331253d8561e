import { useTranslation } from "react-i18next";
import { Route, Routes } from "react-router-dom";

import { HelpLink } from "../../components/HelpLink";

export default function ProfileRoutes() {
  return (
    <Routes>
      <Route index element={<ProfileHome />} />
    </Routes>
  );
}

function ProfileHome() {
  const { t } = useTranslation("profile");
  return (
    <section>
      <header className="section-header">
        <h1>{t("title")}</h1>
        <HelpLink section="profile" />
      </header>
    </section>
  );
}
