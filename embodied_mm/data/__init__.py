"""Training data for the PaLM-E planner: oracle rollouts → a sharded dataset (`generate`,
`shards`, `dataset`), embodied scene questions (`vqa`) and `embodied-mm ask` (`ask`)."""
