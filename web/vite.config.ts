import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// The production build is served by the auth server at "/" with an SPA fallback to
// index.html; in development the API lives behind the local HTTPS origin.
export default defineConfig({
  base: '/',
  plugins: [react()],
  server: {
    proxy: {
      '/api': { target: 'https://127.0.0.1:8443', secure: false },
    },
  },
  build: { outDir: 'dist' },
  test: {
    environment: 'node',
    include: ['tests/**/*.test.ts'],
  },
});
