#!/bin/bash
# One image through the fixed CNN, each side in its own process, rounds alternated.
# Run from the repository root, the tree measured against unpacked in OLD:
#   mkdir OLD && git archive d03027a src | tar -x -C OLD
#   git apply lab/2026-12-07-one-image-channels-last.patch
#   bash docs/runs/2026-12-07-one-image/lat.sh 10 OLD/src old new new1 pytorch
# old: OLD/src; new: this tree; new1: this tree with OPENBLAS_NUM_THREADS=1; pytorch.
rounds=$1; old=$(realpath "$2"); shift 2
src=$(realpath src)
cd benchmarks || exit 1
for r in $(seq "$rounds"); do for t in "$@"; do
  P=$src; s=mnistnp; X=
  case $t in old) P=$old;; new1) X=OPENBLAS_NUM_THREADS=1;; pytorch) s=pytorch;; esac
  v=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=$P $X python cnn_side.py $s cnn-latency 0 \
      | python -c "import json,sys; print(round(json.loads(sys.stdin.read())['value'],1))")
  echo "$r $t $v"
done; done
