#!/usr/bin/env bash
# Issue #16's ladder, step "one long single-seed learning curve": JEPA (`tiny` model, VICReg in one chunk of
# 8 clips, lr 1e-3) on the default study's data for U updates, every K-th update kept, then ridge, kNN and
# the attentive probe (paper lr / wd, 30 epochs) on the initial weights and every checkpoint.
# Usage: bash notes/curve.sh SYSTEM UPDATES EVERY   (data from `physrep reproduce --preset default --out runs/default`)
# Resumable (pretraining resumes, probed points reuse their features). Writes runs/curve/<system>-u<U>/.
set -euo pipefail
cd "$(dirname "$0")/.."
SYS=$1; U=$2; K=$3
P=./target/release/physrep
D=runs/default/data/$SYS
R=runs/curve/$SYS-u$U
NOISE=0; case $SYS in active_matter|shear_flow) NOISE=$(python3 -c 'print(32/224)');; esac
if [ ! -f "$R/DONE" ]; then
  RES=(); [ -f "$R/config.toml" ] && RES=(--resume)
  $P pretrain --method jepa --data "$D" --out "$R" --preset tiny --quiet "${RES[@]}" \
    train.max_updates=$U train.epochs=100000 train.global_batch=8 train.micro_batch=8 train.lr=1e-3 \
    method.vicreg.chunks=1 train.noise_std=$NOISE train.seed=0 train.checkpoint_every=$K train.keep_checkpoints=0
fi
$P probe --run "$R" --data "$D" --learning-curve --probe linear,knn,attentive --epochs 30 --sweep-lr 1e-3 --sweep-wd 0.01 --noise $NOISE
