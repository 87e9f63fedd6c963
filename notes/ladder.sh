#!/usr/bin/env bash
# The ladder of issue #16, step "one long run against its own initialisation": JEPA (`tiny` model, VICReg in
# one chunk of 8 clips) pretrained for U updates on the default study's simulated data, three seeds, each
# probed trained and at its own initial weights, then compared with `physrep compare`.
# Usage: [SEEDS="0 1 2"] bash notes/ladder.sh SYSTEM UPDATES [TAG OVERRIDE...]   (data from `physrep reproduce --preset default
# --out runs/default`); e.g. `bash notes/ladder.sh advection 200 cross data.views=cross_trajectory`.
# `train.epochs` is set far beyond U so that U (the schedule's length) binds. Resumable: finished runs and
# probes are skipped; a comparison the bootstrap cannot form (e.g. kNN with zero error) is reported and skipped. Writes runs/ladder/<system>-u<U>/.
set -euo pipefail
cd "$(dirname "$0")/.."
SYS=$1; U=$2; TAG=${3:-}; EXTRA=("${@:4}")
P=./target/release/physrep
D=runs/default/data/$SYS
OUT=runs/ladder/$SYS-u$U${TAG:+-$TAG}
mkdir -p "$OUT"
NOISE=0; case $SYS in active_matter|shear_flow) NOISE=$(python3 -c 'print(32/224)');; esac
A=(); B=()
for s in ${SEEDS:-0 1 2}; do
  R=$OUT/jepa-s$s
  if [ ! -f "$R/DONE" ]; then
    RES=(); [ -f "$R/config.toml" ] && RES=(--resume)
    $P pretrain --method jepa --data "$D" --out "$R" --preset tiny --quiet "${RES[@]}" \
      train.max_updates=$U train.epochs=100000 train.global_batch=8 train.micro_batch=8 train.lr=1e-3 method.vicreg.chunks=1 \
      train.noise_std=$NOISE train.seed=$s "${EXTRA[@]}"
  fi
  for init in "" --init; do
    sub=probe; [ -n "$init" ] && sub=probe-init
    [ -f "$R/$sub/results.json" ] || $P probe --run "$R" --data "$D" --probe linear,knn,attentive --fractions 1 --epochs 30 --noise $NOISE $init > /dev/null
  done
  A+=("$R/probe"); B+=("$R/probe-init")
done
for probe in linear knn attentive; do
  $P compare --system "$SYS" --probe $probe --a "jepa=$(IFS=,; echo "${A[*]}")" --b "jepa-init=$(IFS=,; echo "${B[*]}")" | tee "$OUT/compare-$probe.txt" || true
done
