import { lazy, Suspense, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { BrowserRouter, NavLink, Navigate, Route, Routes } from "react-router-dom";

import { QueryClientProvider } from "@tanstack/react-query";

import { ApiError } from "./api/client";
import { queryClient } from "./api/queries";
import { AuthProvider, useAuth } from "./auth/AuthContext";
import { PartnerSelector } from "./components/PartnerSelector";
import { Loading } from "./components/states";
import { NotificationsProvider } from "./notifications/NotificationsContext";

// Each section is a chunk of its own, loaded when first opened.
const ActivityRoutes = lazy(() => import("./sections/activity"));
const InstancesRoutes = lazy(() => import("./sections/instances"));
const ProfileRoutes = lazy(() => import("./sections/profile"));
const ReportsRoutes = lazy(() => import("./sections/reports"));
const SupportRoutes = lazy(() => import("./sections/support"));

export default function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <AuthProvider>
        <NotificationsProvider>
          <BrowserRouter>
            <Shell />
          </BrowserRouter>
        </NotificationsProvider>
      </AuthProvider>
    </QueryClientProvider>
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
        <Suspense fallback={<Loading />}>
          <Routes>
            <Route path="/" element={<Navigate to="/support" replace />} />
            <Route path="/support/*" element={<SupportRoutes />} />
            <Route path="/instances/*" element={<InstancesRoutes />} />
            <Route path="/reports/*" element={<ReportsRoutes />} />
            <Route path="/activity/*" element={<ActivityRoutes />} />
            <Route path="/profile/*" element={<ProfileRoutes />} />
            <Route path="*" element={<NotFound />} />
          </Routes>
        </Suspense>
      </main>
      <BottomNav />
    </div>
  );
}

function NotFound() {
  const { t } = useTranslation();
  return <h1 className="state">{t("notFound")}</h1>;
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
