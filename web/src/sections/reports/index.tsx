import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { NavLink, Outlet, Route, Routes } from "react-router-dom";

import { HelpLink } from "../../components/HelpLink";
import ActiveServicesPage from "./ActiveServicesPage";
import ChartsPage from "./ChartsPage";
import { InstanceDetailPage, LicenseDetailPage } from "./details";
import OperationsPage from "./OperationsPage";
import SilentSeatsPage from "./SilentSeatsPage";
import "./reports.css";

export default function ReportsRoutes() {
  // Every report query carries the partner chosen in the global selector (staff, R-11), so the
  // screens reload when it changes (see useReportQuery); a company filter is dropped then.
  return (
    <Routes>
      <Route element={<ReportsLayout />}>
        <Route index element={<ChartsPage />} />
        <Route path="active-services" element={<ActiveServicesPage />} />
        <Route path="operations" element={<OperationsPage />} />
        <Route path="silent-seats" element={<SilentSeatsPage />} />
      </Route>
      <Route path="instances/:id" element={<DetailLayout element={<InstanceDetailPage />} />} />
      <Route path="licenses/:id" element={<DetailLayout element={<LicenseDetailPage />} />} />
    </Routes>
  );
}

function Header() {
  const { t } = useTranslation("reports");
  return (
    <header className="section-header">
      <h1>{t("title")}</h1>
      <HelpLink section="reports" />
    </header>
  );
}

function ReportsLayout() {
  const { t } = useTranslation("reports");
  return (
    <section className="reports">
      <Header />
      <nav className="report-views" aria-label={t("views.label")}>
        <NavLink to="/reports" end>
          {t("views.charts")}
        </NavLink>
        <NavLink to="/reports/active-services">{t("views.active")}</NavLink>
        <NavLink to="/reports/operations">{t("views.operations")}</NavLink>
        <NavLink to="/reports/silent-seats">{t("views.silent")}</NavLink>
      </nav>
      <Outlet />
    </section>
  );
}

function DetailLayout({ element }: { element: ReactNode }) {
  return (
    <section className="reports">
      <Header />
      {element}
    </section>
  );
}
