import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";

import { apiQuery } from "../api/queries";
import type { Schema } from "../api/types";
import { useAuth } from "../auth/AuthContext";

type PartnerOption = Schema<"PartnerOut">;

/** Staff act for one of their partners at a time: the selector switches it everywhere. */
export function PartnerSelector() {
  const { t } = useTranslation();
  const { user, partnerId, switchPartner } = useAuth();
  const staff = user?.role === "staff";
  const partners = useQuery({ ...apiQuery<PartnerOption[]>("/partners"), enabled: staff });
  if (!staff || !partners.data) return null;
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
