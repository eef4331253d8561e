import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { BrowserRouter, NavLink, Navigate, Route, Routes } from "react-router-dom";

import { api, ApiError } from "./api/client";
import { AuthProvider, useAuth } from "./auth/AuthContext";
import { useAsync } from "./components/hooks";
import { Loading } from "./components/states";
import { NotificationsProvider } from "./notifications/NotificationsContext";
import ActivityRoutes from "./sections/activity";
import InstancesRoutes from "./sections/instances";
import ProfileRoutes from "./sections/profile";
import ReportsRoutes from "./sections/reports";
import SupportRoutes from "./sections/support";

export default function App() {
  return (
    <AuthProvider>
      <NotificationsProvider>
        <BrowserRouter>
          <Shell />
        </BrowserRouter>
      </NotificationsProvider>
    </AuthProvider>
  );
}

function Shell() {
  const { status } = useAuth();
  if (status === "loading")
    return (
      <main className="content">
        <Loading />
      </main>
    );
  if (status === "signed-out") return <LoginPage />;
  return (
    <div className="app">
      <TopBar />
      <main className="content">
        <Routes>
          <Route path="/" element={<Navigate to="/support" replace />} />
          <Route path="/support/*" element={<SupportRoutes />} />
          <Route path="/instances/*" element={<InstancesRoutes />} />
          <Route path="/reports/*" element={<ReportsRoutes />} />
          <Route path="/activity/*" element={<ActivityRoutes />} />
          <Route path="/profile/*" element={<ProfileRoutes />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </main>
      <BottomNav />
    </div>
  );
}

function NotFound() {
  const { t } = useTranslation();
  return <h1 className="state">{t("notFound")}</h1>;
}

interface PartnerOption {
  id: string;
  name: string;
  acting: boolean;
}

/** Staff act for one of their partners at a time: the selector switches it everywhere. */
export function PartnerSelector() {
  const { t } = useTranslation();
  const { user, partnerId, switchPartner } = useAuth();
  const partners = useAsync((signal) => api<PartnerOption[]>("/partners", { signal }), [partnerId]);
  if (user?.role !== "staff" || !partners.data) return null;
  return (
    <label className="partner-selector">
      <span>{t("actingFor")}</span>
      <select
        value={partnerId ?? ""}
        onChange={(event) => void switchPartner(event.target.value)}
        data-testid="partner-selector"
      >
        {partners.data.map((partner) => (
          <option key={partner.id} value={partner.id}>
            {partner.name}
          </option>
        ))}
      </select>
    </label>
  );
}

function TopBar() {
  const { t } = useTranslation();
  return (
    <header className="topbar">
      <span className="brand">{t("appName")}</span>
      <PartnerSelector />
    </header>
  );
}

function BottomNav() {
  const { t } = useTranslation();
  const sections = ["support", "instances", "reports", "activity", "profile"] as const;
  return (
    <nav className="bottom-nav" aria-label={t("navLabel")}>
      {sections.map((section) => (
        <NavLink key={section} to={`/${section}`} className={({ isActive }) => (isActive ? "active" : "")}>
          {t(`nav.${section}`)}
        </NavLink>
      ))}
    </nav>
  );
}

function LoginPage() {
  const { t } = useTranslation();
  const { login } = useAuth();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(email, password);
    } catch (failure) {
      setError(failure instanceof ApiError && failure.status !== 401 ? failure.readable : t("login.failed"));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="login">
      <h1>{t("appName")}</h1>
      <form onSubmit={(event) => void submit(event)} className="card">
        <h2>{t("login.title")}</h2>
        <label>
          {t("login.email")}
          <input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          {t("login.password")}
          <input
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && (
          <p className="field-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {t("login.submit")}
        </button>
      </form>
    </main>
  );
}
