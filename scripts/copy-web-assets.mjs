// The build's last step: the page's HTML, CSS and images go beside its compiled scripts in
// dist/browser/web/page, where the web server serves them from (tsc copies only what it compiles).
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'src', 'web', 'page');
const to = join(root, 'dist', 'browser', 'web', 'page');
mkdirSync(to, { recursive: true });
for (const name of readdirSync(from)) {
  if (/\.(html|css|svg|png|ico)$/.test(name)) copyFileSync(join(from, name), join(to, name));
}
