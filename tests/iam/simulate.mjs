// Evaluates AWS requests against identity policies with an IAM policy
// engine (@cloud-copilot/iam-simulate, pinned in package-lock.json; AGPL,
// used here as a test tool only, never shipped).
//
// stdin:  {"principal": ARN, "account": ID,
//          "checks": [{"policies": [{"name", "policy"}],
//                      "requests": [{"action", "resource", "context",
//                                    "resourcePolicy"?}]}]}
// A request's resource policy (a bucket's, a KMS key's) is evaluated with
// the identity policies, as AWS does. A request marked "unchecked" skips the
// engine's check of the action's resource types against its data (the
// Service Authorization Reference), for an action where AWS is known to
// differ from that data (requests.rs says which, and why).
// stdout: [[decision, ...] per check], each decision "Allowed",
//         "ImplicitlyDenied", "ExplicitlyDenied" or "Error: <why>" (an
//         action, resource or context key the engine does not know).

import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const out = [];
for (const check of input.checks) {
  const decisions = [];
  for (const request of check.requests) {
    const simulation = {
      request: {
        principal: input.principal,
        action: request.action,
        resource: { resource: request.resource, accountId: input.account },
        contextVariables: request.context ?? {},
      },
      identityPolicies: check.policies,
      resourcePolicy: request.resourcePolicy,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    };
    if (request.unchecked) {
      decisions.push(runUnsafeSimulation(simulation, {}));
      continue;
    }
    const result = await runSimulation(simulation, {});
    if (result.resultType === 'error' || result.errors) {
      decisions.push('Error: ' + JSON.stringify(result.errors ?? result));
    } else {
      decisions.push(result.overallResult);
    }
  }
  out.push(decisions);
}
process.stdout.write(JSON.stringify(out));
