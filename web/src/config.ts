// Settings of the web app that a deployment chooses. Two places, the later one winning:
// - at build time, Vite's environment (`VITE_MAP_TILE_URL=… npm run build`, or web/.env.local);
// - at run time, `config.json` next to index.html (web/public/config.json, copied into dist/):
//   a deployment edits that file, no rebuild needed.
// The map's tiles come from any OpenStreetMap-compatible server ({z}/{x}/{y} template, `{s}` for
// subdomains), e.g. a vendor's own tile server. Behind the gateway, /config.json comes from its
// GATEWAY_MAP_* settings, and its Content-Security-Policy allows images from that origin.
import { useQuery } from "@tanstack/react-query";

export interface MapSettings {
  /** URL template of raster tiles, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png */
  tileUrl: string;
  /** HTML shown in the map's corner: the tiles' licence and source. */
  attribution: string;
  maxZoom: number;
}

export interface AppConfig {
  map: MapSettings;
}

const env = import.meta.env as Record<string, string | undefined>;

export const DEFAULT_CONFIG: AppConfig = {
  map: {
    tileUrl: env.VITE_MAP_TILE_URL || "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    attribution:
      env.VITE_MAP_ATTRIBUTION ||
      '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
    maxZoom: Number(env.VITE_MAP_MAX_ZOOM) || 19,
  },
};

interface ConfigFile {
  map?: { tile_url?: unknown; attribution?: unknown; max_zoom?: unknown };
}

/** The build's defaults with what config.json sets; the defaults alone if the file is missing or unreadable. */
export async function loadConfig(signal?: AbortSignal): Promise<AppConfig> {
  let file: ConfigFile = {};
  try {
    const response = await fetch("/config.json", { signal, cache: "no-cache" });
    if (response.ok) file = (await response.json()) as ConfigFile;
  } catch {
    // offline or not JSON: the build's settings
  }
  const map = file.map ?? {};
  return {
    map: {
      tileUrl: typeof map.tile_url === "string" && map.tile_url ? map.tile_url : DEFAULT_CONFIG.map.tileUrl,
      attribution:
        typeof map.attribution === "string" && map.attribution ? map.attribution : DEFAULT_CONFIG.map.attribution,
      maxZoom: typeof map.max_zoom === "number" && map.max_zoom > 0 ? map.max_zoom : DEFAULT_CONFIG.map.maxZoom,
    },
  };
}

/** The settings once read (undefined for the moment it takes; loadConfig never fails). */
export function useAppConfig(): AppConfig | undefined {
  const config = useQuery({ queryKey: ["/config.json"], queryFn: ({ signal }) => loadConfig(signal), staleTime: Infinity });
  return config.data;
}
