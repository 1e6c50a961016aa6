// Prints the plugin's installed packages whose versions differ from package-lock.json (the drift check's
// report). Run from plugin-cintel-rtt/ after a fresh `npm install --package-lock=false`.
const fs = require("fs");
const path = require("path");

const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages;
const rows = [];
for (const [where, locked] of Object.entries(lock)) {
  if (!where.startsWith("node_modules/") || locked.link) continue;
  let installed = null;
  try {
    installed = JSON.parse(fs.readFileSync(path.join(where, "package.json"), "utf8")).version;
  } catch {
    installed = null;
  }
  if (installed !== locked.version) rows.push(`  ${where.slice(13)}: ${locked.version} -> ${installed ?? "(not installed)"}`);
}
console.log(rows.length ? rows.sort().join("\n") : "  none: the newest versions are the locked ones");
