#!/usr/bin/env bash
# Usage: bash experiments/embedded_weights/run.sh   (from the repository root; resumes: every stage skips finished work)
# Rebuilds every drafter and head shipped in weights/gemma-3-270m/de/ from scratch, for the embedded target:
#   1. the German data of experiments/data_scaling (1,500 greedy self-distilled answers: the first 1,000 train, the
#      last 500 stay apart; teacher-forced features over 4,000 pool references), plus the EAGLE-3 layers' dump;
#   2. each method's training (`train.run`, shapes chosen so that all weights weigh <= 40 MB in bf16);
#   3. top-1 per depth on the held-apart answers and the CPU static trees (evaluation.calibrate_tree);
#   4. `python -m train.ship`: bf16 weights, draft vocabulary, tree and provenance.json into weights/.
# Env: STEPS (600 for heads), SD_STEPS (800 pretrain, 400 finetune). Each stage prints its wall time (stages.log).
set -euo pipefail
source scripts/env.sh
lang=de; data="data/scaling/$lang"; out="outputs/embedded_weights/$lang"; steps="${STEPS:-600}"
sd=1000  # distilled answers trained on; the rest of the 1,500 are held apart
mkdir -p "$out"
stage() { local name="$1"; shift; local start=$SECONDS; "$@"; echo "[embedded_weights] $name: $((SECONDS - start)) s" | tee -a "$out/stages.log"; }

SD=$sd HOLDOUT=500 MORE=3000 bash experiments/data_scaling/run.sh data
stage "EAGLE-3 features (layers 2 9 15)" python -m data_generation.hidden_states --data "$data/distilled.jsonl" \
  --out "$data/sd-eagle3" --layers 2 9 15
teacher_forced="$(json_list "$data/tf" "$data/tf-more")"
small=(task_args.intermediate_size=768 task_args.kv_heads=4)  # EAGLE-style layers: ~3M weights, not ~6M

train() {  # METHOD CONFIG OVERRIDES...
  local method="$1" config="$2"; shift 2
  stage "train $method" python -m train.run --config "train/configs/$config.json" --resume "output_dir=$out/$method" \
    save_every=200 "$@"
}
train eagle eagle_quick "task_args.data=$teacher_forced" "steps=$steps" "${small[@]}"
train eagle3 eagle3_quick "task_args.data=$data/sd-eagle3" task_args.limit=$sd "steps=$steps" "${small[@]}"
train medusa medusa_quick "task_args.data=$teacher_forced" "steps=$steps"
train hydra hydra_quick "task_args.data=$teacher_forced" "steps=$steps" task_args.num_heads=2
# CTC: 3 slots on a narrower layer, and 2/3 of the steps (a step costs ~2x EAGLE's): the 40 MB budget and the clock
train ctc ctc_quick "task_args.data=$teacher_forced" "steps=$(( steps * 2 / 3 ))" task_args.kv_heads=4 \
  task_args.intermediate_size=512 task_args.slots=3
train sd-pretrain drafter_lm_quick_pretrain "task_args.data=data/train/$lang.jsonl" "steps=${SD_STEPS:-800}" \
  task_args.draft_vocab_size=4096 "task_args.vocab_answers=$data/distilled.jsonl" task_args.vocab_limit=$sd
train sd drafter_lm_quick_finetune "task_args.data=$data/distilled.jsonl" task_args.limit=$sd \
  "task_args.init_from=$out/sd-pretrain/final" "steps=$(( ${SD_STEPS:-800} / 2 ))"

calibrate() {  # METHOD FEATURES: top-1 per depth on the held-apart answers, and the CPU tree
  stage "held-apart accuracy $1" python -m evaluation.calibrate_tree --task "$1" --head "$out/$1/final" \
    --features "$2" --skip $sd --total "$CPU_TREE_NODES" --top-k 2 --out "$out/$1/tree.json" \
    --accuracy-out "$out/$1/held_apart.json"
}
calibrate eagle "$data/sd"
calibrate eagle3 "$data/sd-eagle3"
calibrate medusa "$data/sd"
calibrate hydra "$data/sd"
python -m train.ship --runs "$out" --out "weights/gemma-3-270m/$lang"
