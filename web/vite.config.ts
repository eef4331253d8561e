import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The gateway serves the built files (dist/) and the API on one origin; `npm run dev` proxies
// the API to a local gateway (`make up`).
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", sourcemap: true, chunkSizeWarningLimit: 800 },
  server: { proxy: { "/api": "http://127.0.0.1:8000" } },
});
