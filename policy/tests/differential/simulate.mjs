// Runs a batch of IAM authorization questions through @cloud-copilot/iam-simulate, the independent
// simulator the policy crate's differential test compares against.
//
// stdin:  {"cases": [{"id", "identity": [policy…], "boundary": policy|null, "session": policy|null,
//                     "action", "resource", "principal", "context": {key: string|[string…]}}]}
// stdout: {"results": [{"id", "decision": "allowed"|"explicitDeny"|"implicitDeny"} |
//                      {"id", "error": "…"}]}
// Run by policy/tests/differential.rs; the package comes from GATEHOUSE_IAM_SIMULATE_DIR
// (a node_modules folder) when set, else from the repository's node_modules.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const modulesDir = process.env.GATEHOUSE_IAM_SIMULATE_DIR
  ? path.resolve(process.env.GATEHOUSE_IAM_SIMULATE_DIR)
  : path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../node_modules')

// Resolve the ESM entry point from the chosen node_modules folder, not from this file's location.
const require = createRequire(path.join(modulesDir, 'package.json'))
let entry
try {
  entry = require.resolve('@cloud-copilot/iam-simulate', { paths: [modulesDir] })
} catch (e) {
  process.stderr.write(`@cloud-copilot/iam-simulate not found under ${modulesDir}: ${e.message}\n`)
  process.exit(3)
}
const esmEntry = entry.replace(`${path.sep}cjs${path.sep}`, `${path.sep}esm${path.sep}`)
const { runSimulation } = await import(pathToFileURL(esmEntry).href)

// The tool's words, mapped to those of `aws iam simulate-custom-policy`.
const DECISIONS = {
  Allowed: 'allowed',
  ExplicitlyDenied: 'explicitDeny',
  ImplicitlyDenied: 'implicitDeny'
}

async function simulate(c) {
  const simulation = {
    identityPolicies: c.identity.map((policy, i) => ({ name: `identity${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: {
      principal: c.principal,
      action: c.action,
      resource: { resource: c.resource, accountId: '123456789012' },
      contextVariables: c.context
    }
  }
  if (c.boundary) {
    simulation.permissionBoundaryPolicies = [{ name: 'boundary', policy: c.boundary }]
  }
  if (c.session) {
    simulation.sessionPolicy = c.session
  }
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    return { id: c.id, error: JSON.stringify(response.errors) }
  }
  const ignored = response.result?.ignoredContextKeys ?? []
  if (ignored.length > 0) {
    // A key the tool ignores would silently turn into a missing key: report it instead.
    return { id: c.id, error: `context keys ignored by the simulator: ${ignored.join(', ')}` }
  }
  const decision = DECISIONS[response.overallResult]
  if (!decision) {
    return { id: c.id, error: `unknown result ${response.overallResult}` }
  }
  return { id: c.id, decision }
}

const input = JSON.parse(readFileSync(0, 'utf8'))
const results = []
for (const c of input.cases) {
  try {
    results.push(await simulate(c))
  } catch (e) {
    results.push({ id: c.id, error: `simulator threw: ${e && e.stack ? e.stack : e}` })
  }
}
process.stdout.write(JSON.stringify({ results }))
