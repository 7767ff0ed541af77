/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Served by the BentoML service under /ui (serving/dashboard/app.py).
export default defineConfig({
  base: "/ui/",
  plugins: [react()],
  build: { outDir: "dist", chunkSizeWarningLimit: 1000 },
  test: { environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"] },
});
