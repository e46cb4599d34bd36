"""Advanced notebook A1: rollouts and A/B tests.

`router` (a weighted canary router with a header override and a shadow), `bundles` (the registry's versions as a
model repository the API serves), `canary` (the automated canary: steps, checks, promote or roll back), `stats`
(power, the tests, McNemar), `sequential` (peeking and an always-valid remedy), `manifests` (the same rollout for
a cluster: an NGINX canary Ingress and an Argo Rollout, generated and validated offline).
"""
