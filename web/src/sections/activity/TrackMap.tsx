// The interactive map of a terminal's day (Leaflet through react-leaflet): raster tiles from the
// configured OpenStreetMap-compatible server, and over them the track as SVG layers drawn by Leaflet
// itself (a line per stretch without gaps, a dashed line across each gap, a dot per point, a circle
// of its accuracy), so the track shows on the plain background when the tiles cannot load.
// A chunk of its own: Leaflet loads only when a map is shown.
import "leaflet/dist/leaflet.css";

import { latLngBounds, type LatLngExpression } from "leaflet";
import { useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Circle, CircleMarker, MapContainer, Polyline, TileLayer, Tooltip, useMap, ZoomControl } from "react-leaflet";

import type { MapSettings } from "../../config";
import type { Position } from "./fieldTypes";
import { formatClock, formatDuration } from "./model";

const TRACK = "#1d4ed8";
const GAP = "#b45309";
const LAST = "#b91c1c";

/** The stretches of the track: a new one starts at each point marked with a gap before it. */
export function stretches(points: Position[]): Position[][] {
  const found: Position[][] = [];
  for (const point of points) {
    const current = found.at(-1);
    if (!current || point.gap_before_s != null) found.push([point]);
    else current.push(point);
  }
  return found;
}

const at = (point: Position): LatLngExpression => [point.lat, point.lon];

export default function TrackMap({
  points,
  last,
  settings,
  label,
}: {
  points: Position[];
  /** The terminal's last known position, marked apart (it may be of another day). */
  last: Position | null;
  settings: MapSettings;
  label: string;
}) {
  const { t, i18n } = useTranslation("activity");
  // The notice shows once tiles failed while none loaded (a whole tile server out of reach).
  const [tiles, setTiles] = useState({ failed: false, loaded: false });
  const tilesFailed = tiles.failed && !tiles.loaded;
  const parts = useMemo(() => stretches(points), [points]);
  const gaps = useMemo(
    () => parts.slice(1).map((part, index) => [parts[index]!.at(-1)!, part[0]!] as const),
    [parts],
  );
  const shown = points.length > 0 ? points : last ? [last] : [];
  const center: LatLngExpression = shown[0] ? at(shown[0]) : [40.4168, -3.7038];
  return (
    <div className="track-map">
      {tilesFailed && (
        <p className="notice notice-warning" role="status" data-testid="tiles-failed">
          {t("map.tilesFailed")}
        </p>
      )}
      <MapContainer center={center} zoom={shown.length > 0 ? 15 : 5} zoomControl={false} className="track-map-canvas">
        <MapSetup label={label} points={shown} />
        <ZoomControl position="topleft" zoomInTitle={t("map.zoomIn")} zoomOutTitle={t("map.zoomOut")} />
        <TileLayer
          url={settings.tileUrl}
          attribution={settings.attribution}
          maxZoom={settings.maxZoom}
          // The app sends no Referer (Referrer-Policy: no-referrer), but OpenStreetMap's tile servers
          // require one: tiles send the app's origin only.
          referrerPolicy="strict-origin-when-cross-origin"
          eventHandlers={{
            tileerror: () => setTiles((state) => (state.failed ? state : { ...state, failed: true })),
            tileload: () => setTiles((state) => (state.loaded ? state : { ...state, loaded: true })),
          }}
        />
        {/* Each layer's class is a prop of its own: Leaflet sets it when it makes the path, not from pathOptions. */}
        {points.map((point) =>
          point.accuracy_m ? (
            <Circle
              key={`accuracy-${point.record_id}`}
              center={at(point)}
              radius={point.accuracy_m}
              className="track-accuracy"
              pathOptions={{ color: TRACK, weight: 1, opacity: 0.4, fillOpacity: 0.08 }}
              interactive={false}
            />
          ) : null,
        )}
        {parts.map((part) => (
          <Polyline
            key={`line-${part[0]!.record_id}`}
            positions={part.map(at)}
            className="track-line"
              pathOptions={{ color: TRACK, weight: 4 }}
          />
        ))}
        {gaps.map(([from, to]) => (
          <Polyline
            key={`gap-${to.record_id}`}
            positions={[at(from), at(to)]}
            className="track-gap"
              pathOptions={{ color: GAP, weight: 3, dashArray: "6 8" }}
          >
            <Tooltip>{t("map.gap", { duration: formatDuration(to.gap_before_s ?? 0) })}</Tooltip>
          </Polyline>
        ))}
        {points.map((point, index) => (
          <CircleMarker
            key={point.record_id}
            center={at(point)}
            radius={index === 0 || index === points.length - 1 ? 7 : 5}
            className="track-point"
              pathOptions={{ color: "white", weight: 2, fillColor: TRACK, fillOpacity: 1 }}
          >
            <Tooltip>
              {index + 1}. {formatClock(point.occurred_at, i18n.language)}
              {point.accuracy_m !== null ? ` · ±${Math.round(point.accuracy_m)} m` : ""}
            </Tooltip>
          </CircleMarker>
        ))}
        {last && (
          <CircleMarker
            center={at(last)}
            radius={9}
            className="track-last"
              pathOptions={{ color: LAST, weight: 3, fillColor: "white", fillOpacity: 0.9 }}
          >
            <Tooltip>{t("map.lastPosition", { time: formatClock(last.occurred_at, i18n.language) })}</Tooltip>
          </CircleMarker>
        )}
      </MapContainer>
      <p className="muted track-legend">
        <span className="legend-line" aria-hidden="true" /> {t("map.legendTrack")}{" "}
        <span className="legend-gap" aria-hidden="true" /> {t("map.legendGap")}{" "}
        <span className="legend-last" aria-hidden="true" /> {t("map.legendLast")}
      </p>
    </div>
  );
}

/** Names the map for assistive technology and frames the points when other points are shown (not on
 * every render: the user's own zoom and pan stay while the page refetches). */
function MapSetup({ label, points }: { label: string; points: Position[] }) {
  const map = useMap();
  useEffect(() => {
    const container = map.getContainer();
    container.setAttribute("role", "region");
    container.setAttribute("aria-label", label);
  }, [map, label]);
  const framed = useRef<string | null>(null);
  const which = `${points.length}:${points[0]?.record_id ?? ""}:${points.at(-1)?.record_id ?? ""}`;
  useEffect(() => {
    if (points.length === 0 || framed.current === which) return;
    framed.current = which;
    if (points.length === 1) map.setView(at(points[0]!), 16);
    else map.fitBounds(latLngBounds(points.map((point) => [point.lat, point.lon])), { padding: [24, 24], maxZoom: 17 });
  }, [map, points, which]);
  return null;
}
