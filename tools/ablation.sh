#!/bin/bash
# The inputs comparison of docs/palme.md (PaLM-E Table 1 style): four rows with the same
# budget (500 steps x batch 8 from scratch, plan samples, train.autocast=auto), each followed
# by the closed-loop eval on seeds 1000+. Needs outputs/data and outputs/data_infeasible
# (gen-data commands in docs/palme.md). ~75 min on a 2-core CPU with native bf16.
#   tools/ablation.sh            # all rows;  tools/ablation.sh state image   # some
set -euo pipefail
cd "$(dirname "$0")/.."
E=${EMBODIED_MM:-.venv/bin/embodied-mm}
T=(train.data_dir=outputs/data "train.extra_data_dirs=[outputs/data_infeasible]" "train.kinds=[plan]"
   train.steps=500 train.eval_every=250 train.eval_samples=120 train.checkpoint_every=250
   train.final_eval_episodes=0)
declare -A INPUTS=(
  [state]="model.inputs=[state,robot]"
  [objects]="model.inputs=[objects,robot]"
  [image]="model.inputs=[image,robot]"
  [random]="model.inputs=[objects,robot] model.llm=gemma3-270m-random"
)
for row in "${@:-state objects image random}"; do
  for name in $row; do
    [[ -n "${INPUTS[$name]:-}" ]] || { echo "unknown row $name (state, objects, image, random)"; exit 2; }
    echo "=== $name $(date +%T)"
    # shellcheck disable=SC2086
    $E train "${T[@]}" ${INPUTS[$name]} train.out_dir=outputs/abl_$name
    $E eval planner=palme planner.checkpoint=outputs/abl_$name/final task=all eval.episodes=20 \
      eval.seed=1000 eval.workers=2 eval.out_dir=outputs/eval_abl_$name
  done
done
