// Concord as in concord.mjs, from the checkout given by `--baseline DIR` (run.mjs passes its
// dist in CONCORD_BENCH_DIST): two builds loaded in the same slices, for an A/B comparison.
await import('./concord.mjs')
