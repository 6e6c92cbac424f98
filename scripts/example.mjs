// npm run example -- <name>: runs the built example examples/<name>/main.ts.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const name = process.argv[2];
if (!name) {
  console.error('usage: npm run example -- <name>   (the folders of examples/)');
  process.exit(2);
}
const entry = new URL(`../dist/examples/${name}/main.js`, import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error(`example "${name}" not found in dist/examples: check the name, and build with npm run build`);
  process.exit(2);
}
await import(entry.href);
