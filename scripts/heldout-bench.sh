#!/usr/bin/env bash
# The model card's held-out benchmark: scenes of a seed never used in training, every size
# and aspect of the contract, every benchmark kind, NegPred on each negatives split.
#   scripts/heldout-bench.sh [SEED] [OUT]      (default: 616161 runs/fresh)
# then:  .venv/bin/locvlm eval --model default --bench OUT/bench.jsonl \
#            --bench OUT/negpred-random.jsonl --bench OUT/negpred-popular.jsonl \
#            --bench OUT/negpred-adversarial.jsonl --out REPORT.json
set -euo pipefail
seed=${1:-616161}
out=${2:-runs/fresh}
L=${LOCVLM:-.venv/bin/locvlm}
$L data shapes --n 300 --seed "$seed" --size random --out "$out/data" >/dev/null
coco=(--coco "$out/data/annotations.json" --images "$out/data")
$L data bench --kind leftright,abovebelow,pope,grounding,region,counting,detection \
    --seed 1 "${coco[@]}" --out "$out/bench.jsonl"
for split in random popular adversarial; do
    # NegPred rows only (the grounding rows of present phrases are in bench.jsonl)
    $L data bench --kind grounding --negatives "$split" --seed 2 "${coco[@]}" \
        --out "$out/negpred-$split.all.jsonl"
    grep '"task": "negpred"' "$out/negpred-$split.all.jsonl" > "$out/negpred-$split.jsonl"
    rm "$out/negpred-$split.all.jsonl"
done
wc -l "$out"/*.jsonl
