// The web console's build: `npm run build` runs it after compiling the package, into dist/console, which `keel serve`
// serves at `/` (any path that is not an API route answers index.html, so the console's own URLs load directly).
// Everything is bundled: the console needs no network beyond the Keel server.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    // One bundle for a page served from the same machine: the size warning is for sites on the open internet.
    chunkSizeWarningLimit: 1024,
  },
});
