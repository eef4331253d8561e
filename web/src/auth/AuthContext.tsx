import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";

import { api, session, type Tokens, type User } from "../api/client";
import { queryClient } from "../api/queries";
import i18n from "../i18n";

type Status = "loading" | "signed-out" | "signed-in";

interface Auth {
  status: Status;
  user: User | null;
  /** The partner the user acts for. */
  partnerId: string | null;
  login(email: string, password: string): Promise<void>;
  logout(): Promise<void>;
  switchPartner(partnerId: string): Promise<void>;
  setUser(user: User): void;
}

const AuthContext = createContext<Auth | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<Status>(session.hasRefreshToken ? "loading" : "signed-out");
  const [user, setUserState] = useState<User | null>(null);
  const [partnerId, setPartnerId] = useState<string | null>(null);

  const setUser = useCallback((next: User) => {
    setUserState(next);
    void i18n.changeLanguage(next.language);
  }, []);

  useEffect(() => {
    // What was read belongs to the user and the partner acted for: another partner reads
    // everything again, signing out forgets it. A refreshed token of the same partner keeps it.
    let acting: string | null = null;
    return session.onChange((tokens: Tokens | null) => {
      if (tokens) {
        if (acting !== null && acting !== tokens.partner_id) void queryClient.resetQueries();
        acting = tokens.partner_id;
        setUser(tokens.user);
        setPartnerId(tokens.partner_id);
        setStatus("signed-in");
      } else {
        acting = null;
        queryClient.clear();
        setUserState(null);
        setPartnerId(null);
        setStatus("signed-out");
      }
    });
  }, [setUser]);

  useEffect(() => {
    if (session.hasRefreshToken) void session.refresh().catch(() => session.set(null));
  }, []);

  const value = useMemo<Auth>(
    () => ({
      status,
      user,
      partnerId,
      setUser,
      async login(email, password) {
        session.set(await api<Tokens>("/auth/login", { method: "POST", body: { email, password } }));
      },
      async logout() {
        try {
          await api("/auth/logout", { method: "POST" });
        } finally {
          session.set(null);
        }
      },
      async switchPartner(next) {
        await session.refresh(next);
      },
    }),
    [status, user, partnerId, setUser],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside AuthProvider");
  return auth;
}
