import { useQuery } from "@tanstack/react-query";
import { lazy, Suspense, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, Route, Routes } from "react-router-dom";

import { api, ApiError, type User } from "../../api/client";
import { useAuth } from "../../auth/AuthContext";
import { HelpLink } from "../../components/HelpLink";
import { apiQuery, queryClient } from "../../api/queries";
import { ErrorState, Loading } from "../../components/states";
import { HardwarePage } from "./Hardware";
import "./profile.css";
import { PushToggle } from "./PushToggle";

// Integrations (webhooks) are a chunk of their own, loaded when first opened.
const IntegrationsRoutes = lazy(() => import("./webhooks"));

export default function ProfileRoutes() {
  return (
    <Routes>
      <Route index element={<ProfileHome />} />
      <Route path="hardware" element={<HardwarePage />} />
      <Route
        path="integrations/*"
        element={
          <Suspense fallback={<Loading />}>
            <IntegrationsRoutes />
          </Suspense>
        }
      />
      <Route path="*" element={<ProfileHome />} />
    </Routes>
  );
}

const PROFILE = apiQuery<User>("/profile");

/** The profile as saved: the user everywhere and the profile's query. */
function useSaveUser(): (user: User) => void {
  const { setUser } = useAuth();
  return (user) => {
    setUser(user);
    queryClient.setQueryData(PROFILE.queryKey, user);
  };
}

/** the signed-in user's data, language, password, notifications and sign-out. */
function ProfileHome() {
  const { t } = useTranslation("profile");
  const { logout } = useAuth();
  const profile = useQuery(PROFILE);
  return (
    <section className="profile-page">
      <header className="section-header">
        <h1>{t("title")}</h1>
        <HelpLink section="profile" />
      </header>
      {profile.isPending && <Loading />}
      {profile.error && !profile.data && <ErrorState error={profile.error} onRetry={() => void profile.refetch()} />}
      {profile.data && <PersonalData key={profile.data.id} user={profile.data} />}
      {profile.data && <LanguageCard user={profile.data} />}
      <PasswordForm />
      <PushToggle />
      <section className="card">
        <h2>
          <Link to="/profile/hardware">{t("hardware.link")}</Link>
        </h2>
        <p className="muted">{t("hardware.linkHint")}</p>
      </section>
      <section className="card">
        <h2>
          <Link to="/profile/integrations">{t("webhooks.link")}</Link>
        </h2>
        <p className="muted">{t("webhooks.linkHint")}</p>
      </section>
      <section className="card" aria-labelledby="session-title">
        <h2 id="session-title">{t("session.title")}</h2>
        <div className="actions">
          <button type="button" className="danger" onClick={() => void logout()}>
            {t("session.logout")}
          </button>
        </div>
      </section>
    </section>
  );
}

function FieldError({ id, message }: { id: string; message?: string }) {
  if (!message) return null;
  return (
    <p className="field-error" id={id} role="alert">
      {message}
    </p>
  );
}

function PersonalData({ user }: { user: User }) {
  const { t } = useTranslation("profile");
  const saveUser = useSaveUser();
  const [name, setName] = useState(user.name);
  const [phone, setPhone] = useState(user.phone ?? "");
  const [errors, setErrors] = useState<{ name?: string; phone?: string; general?: string }>({});
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const changed = name.trim() !== user.name || phone.trim() !== (user.phone ?? "");

  async function save(event: FormEvent) {
    event.preventDefault();
    setSaved(false);
    if (!name.trim()) {
      setErrors({ name: t("nameRequired") });
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      const updated = await api<User>("/profile", { method: "PATCH", body: { name: name.trim(), phone: phone.trim() || null } });
      saveUser(updated);
      setName(updated.name);
      setPhone(updated.phone ?? "");
      setSaved(true);
    } catch (failure) {
      if (failure instanceof ApiError) {
        const byField = { name: failure.fieldError("name"), phone: failure.fieldError("phone") };
        setErrors(byField.name || byField.phone ? byField : { general: failure.readable });
      } else {
        setErrors({ general: String(failure) });
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card" onSubmit={(event) => void save(event)} aria-labelledby="personal-title" noValidate>
      <h2 id="personal-title">{t("personal")}</h2>
      <dl className="details profile-identity">
        <dt>{t("email")}</dt>
        <dd>{user.email}</dd>
        <dt>{t("role")}</dt>
        <dd>{t(`roles.${user.role}`)}</dd>
        {user.role === "staff" && (
          <>
            <dt>{t("partners")}</dt>
            <dd>{user.partner_ids.join(", ")}</dd>
          </>
        )}
      </dl>
      <label>
        {t("name")}
        <input
          value={name}
          maxLength={200}
          autoComplete="name"
          onChange={(event) => {
            setName(event.target.value);
            setSaved(false);
          }}
          aria-invalid={Boolean(errors.name)}
          aria-describedby={errors.name ? "profile-name-error" : undefined}
        />
      </label>
      <FieldError id="profile-name-error" message={errors.name} />
      <label>
        {t("phone")}
        <input
          type="tel"
          value={phone}
          maxLength={32}
          autoComplete="tel"
          onChange={(event) => {
            setPhone(event.target.value);
            setSaved(false);
          }}
          aria-invalid={Boolean(errors.phone)}
          aria-describedby={errors.phone ? "profile-phone-error" : "profile-phone-hint"}
        />
      </label>
      <p className="muted profile-hint" id="profile-phone-hint">
        {t("phoneHint")}
      </p>
      <FieldError id="profile-phone-error" message={errors.phone} />
      {errors.general && <p className="field-error" role="alert">{errors.general}</p>}
      {saved && (
        <p className="notice notice-success" role="status">
          {t("saved")}
        </p>
      )}
      <div className="actions">
        <button type="submit" className="primary" disabled={!changed || busy}>
          {t("save")}
        </button>
      </div>
    </form>
  );
}

/** The language applies at once (setUser switches i18n) and is kept in the profile. */
function LanguageCard({ user }: { user: User }) {
  const { t } = useTranslation("profile");
  const { user: current } = useAuth();
  const saveUser = useSaveUser();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const language = current?.language ?? user.language;

  async function change(next: string) {
    if (next !== "es" && next !== "en") return;
    setBusy(true);
    setError(null);
    try {
      saveUser(await api<User>("/profile", { method: "PATCH", body: { language: next } }));
    } catch (failure) {
      setError(failure instanceof ApiError ? (failure.fieldError("language") ?? failure.readable) : String(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card">
      <h2>{t("language")}</h2>
      <label>
        {t("languageLabel")}
        <select value={language} disabled={busy} onChange={(event) => void change(event.target.value)}>
          <option value="es" lang="es">
            {t("languages.es")}
          </option>
          <option value="en" lang="en">
            {t("languages.en")}
          </option>
        </select>
      </label>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

function PasswordForm() {
  const { t } = useTranslation("profile");
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [errors, setErrors] = useState<{ current?: string; next?: string; repeat?: string; general?: string }>({});
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setDone(false);
    const found: typeof errors = {};
    if (!current) found.current = t("password.required");
    if (!next) found.next = t("password.required");
    if (next && repeat !== next) found.repeat = t("password.mismatch");
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    try {
      await api("/profile/password", { method: "POST", body: { current_password: current, new_password: next } });
      setCurrent("");
      setNext("");
      setRepeat("");
      setDone(true);
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 401) {
        setErrors({ current: t("password.wrongCurrent") });
      } else if (failure instanceof ApiError) {
        const current = failure.fieldError("current_password");
        const policy = failure.fieldError("new_password");
        setErrors(current || policy ? { current, next: policy } : { general: failure.readable });
      } else {
        setErrors({ general: String(failure) });
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card" onSubmit={(event) => void submit(event)} aria-labelledby="password-title" noValidate>
      <h2 id="password-title">{t("password.title")}</h2>
      <p className="muted">{t("password.hint")}</p>
      <label>
        {t("password.current")}
        <input
          type="password"
          autoComplete="current-password"
          value={current}
          onChange={(event) => setCurrent(event.target.value)}
          aria-invalid={Boolean(errors.current)}
          aria-describedby={errors.current ? "password-current-error" : undefined}
        />
      </label>
      <FieldError id="password-current-error" message={errors.current} />
      <label>
        {t("password.new")}
        <input
          type="password"
          autoComplete="new-password"
          value={next}
          maxLength={256}
          onChange={(event) => setNext(event.target.value)}
          aria-invalid={Boolean(errors.next)}
          aria-describedby={errors.next ? "password-new-error" : undefined}
        />
      </label>
      <FieldError id="password-new-error" message={errors.next} />
      <label>
        {t("password.repeat")}
        <input
          type="password"
          autoComplete="new-password"
          value={repeat}
          maxLength={256}
          onChange={(event) => setRepeat(event.target.value)}
          aria-invalid={Boolean(errors.repeat)}
          aria-describedby={errors.repeat ? "password-repeat-error" : undefined}
        />
      </label>
      <FieldError id="password-repeat-error" message={errors.repeat} />
      {errors.general && <p className="field-error" role="alert">{errors.general}</p>}
      {done && (
        <p className="notice notice-success" role="status">
          {t("password.done")}
        </p>
      )}
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {t("password.submit")}
        </button>
      </div>
    </form>
  );
}
