// Charts with chart.js (only the parts used are registered), one colour per instance type and
// shades of the WDS blue for its profiles (R-33). Every chart also shows its numbers as a table,
// and its canvas carries a text alternative.
import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  DoughnutController,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from "chart.js";
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

Chart.register(
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  DoughnutController,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
);

export type ChartKind = "bar" | "doughnut" | "line";

function cssColor(name: string, fallback: string): string {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

function rgb(hex: string): [number, number, number] {
  const clean = hex.replace("#", "");
  const full = clean.length === 3 ? [...clean].map((c) => c + c).join("") : clean;
  const n = Number.parseInt(full, 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** `hex` moved towards white (amount > 0) or black (amount < 0). */
function shade(hex: string, amount: number): string {
  const target = amount > 0 ? 255 : 0;
  const weight = Math.abs(amount);
  return `#${rgb(hex)
    .map((c) => Math.round(c + (target - c) * weight))
    .map((c) => c.toString(16).padStart(2, "0"))
    .join("")}`;
}

const TYPE_FALLBACK: Record<string, string> = { WDS: "#2563eb", MCRM: "#15803d", S360: "#c2410c", WTA: "#9333ea" };

export function typeColor(type: string | null | undefined): string {
  const fallback = TYPE_FALLBACK[type ?? ""];
  return fallback ? cssColor(`--type-${(type ?? "").toLowerCase()}`, fallback) : "#9ca3af";
}

const PROFILE_SHADES: Record<string, number> = { essential: 0.45, professional: 0, enterprise: -0.4 };

export function profileColor(profile: string): string {
  return shade(typeColor("WDS"), PROFILE_SHADES[profile] ?? 0.72);
}

export function statusColor(status: string): string {
  if (status === "active") return cssColor("--green", "#15803d");
  if (status === "cancellation_requested" || status === "released") return cssColor("--amber", "#b45309");
  if (status === "expired" || status === "revoked") return cssColor("--red", "#b91c1c");
  return "#9ca3af";
}

export function seriesColor(name: "activations" | "cancellations"): string {
  return name === "activations" ? cssColor("--blue", "#1d4ed8") : cssColor("--red", "#b91c1c");
}

/** A chart option kept across visits (the user's choice of chart type). */
export function useStoredChoice<T extends string>(key: string, allowed: readonly T[], initial: T): [T, (v: T) => void] {
  const storageKey = `partnerapp.reports.${key}`;
  const [value, setValue] = useState<T>(() => {
    const stored = localStorage.getItem(storageKey) as T | null;
    return stored && allowed.includes(stored) ? stored : initial;
  });
  return [
    value,
    (next: T) => {
      localStorage.setItem(storageKey, next);
      setValue(next);
    },
  ];
}

export interface Series {
  label: string;
  data: number[];
  /** One colour for the series, or one per label (single-series charts). */
  color: string | string[];
}

interface ChartProps {
  title: string;
  kind: ChartKind;
  labels: string[];
  series: Series[];
  stacked?: boolean;
  /** Tables of long series (a day per row) fold away. */
  foldTable?: boolean;
}

/** A chart and the same numbers as a table. */
export function ReportChart({ title, kind, labels, series, stacked = false, foldTable = false }: ChartProps) {
  const { t } = useTranslation("reports");
  const canvas = useRef<HTMLCanvasElement>(null);
  const signature = JSON.stringify({ kind, labels, series, stacked });

  useEffect(() => {
    const element = canvas.current;
    if (!element) return;
    const reduced = window.matchMedia?.("(prefers-reduced-motion: reduce)").matches ?? false;
    const circular = kind === "doughnut";
    const config: ChartConfiguration = {
      type: kind,
      data: {
        labels,
        datasets: series.map((s) => ({
          label: s.label,
          data: s.data,
          backgroundColor: s.color,
          borderColor: kind === "line" ? s.color : circular ? "#ffffff" : s.color,
          borderWidth: kind === "line" ? 2 : 1,
          tension: 0.2,
          pointRadius: kind === "line" ? 3 : undefined,
        })),
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: reduced ? false : { duration: 250 },
        plugins: {
          legend: { display: circular || series.length > 1, position: "bottom" },
          tooltip: { enabled: true },
        },
        scales: circular
          ? {}
          : {
              x: { stacked },
              y: { stacked, beginAtZero: true, ticks: { precision: 0 } },
            },
      },
    };
    const chart = new Chart(element, config);
    return () => chart.destroy();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [signature]);

  const values = labels
    .map((label, i) => `${label} ${series.map((s) => (series.length > 1 ? `${s.label} ${s.data[i] ?? 0}` : s.data[i] ?? 0)).join(", ")}`)
    .join("; ");
  const swatch = (s: Series, i: number) => (Array.isArray(s.color) ? s.color[i] : s.color) ?? "#9ca3af";

  const table = (
    <table className="chart-table">
      <caption className="visually-hidden">{t("charts.tableOf", { title })}</caption>
      <thead>
        <tr>
          <th scope="col">{t("charts.category")}</th>
          {series.map((s) => (
            <th scope="col" key={s.label} className="num">
              {series.length > 1 && <span className="swatch" style={{ background: swatch(s, 0) }} aria-hidden="true" />}
              {series.length > 1 ? s.label : t("charts.count")}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {labels.map((label, i) => (
          <tr key={label}>
            <th scope="row">
              {series.length === 1 && series[0] && (
                <span className="swatch" style={{ background: swatch(series[0], i) }} aria-hidden="true" />
              )}
              {label}
            </th>
            {series.map((s) => (
              <td key={s.label} className="num">
                {s.data[i] ?? 0}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );

  return (
    <figure className="report-chart">
      <div className={`chart-box chart-${kind}`}>
        <canvas ref={canvas} role="img" aria-label={t("charts.aria", { title, values })} />
      </div>
      {foldTable ? (
        <details>
          <summary>{t("charts.tableOf", { title })}</summary>
          {table}
        </details>
      ) : (
        table
      )}
    </figure>
  );
}
