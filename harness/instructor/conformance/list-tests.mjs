// node list-tests.mjs: every test of the suite that its command-line client
// (cli.mjs) runs, as JSON on stdout: the same list, Surrogate-Control's
// tests included, with what conformance.py needs of each.
import tests from 'http-cache-tests/tests/index.mjs'
import surrogate from 'http-cache-tests/tests/surrogate-control.mjs'

const out = []
for (const suite of tests.concat([surrogate])) {
  for (const test of suite.tests) {
    out.push({
      id: test.id,
      name: test.name,
      kind: test.kind || 'required',
      suite: suite.name,
      suite_id: suite.id,
      depends_on: test.depends_on || [],
      browser_only: test.browser_only === true
    })
  }
}
console.log(JSON.stringify(out, null, 1))
