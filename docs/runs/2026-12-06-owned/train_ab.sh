#!/bin/bash
# mnistnp train --recipe cnn --epochs 2, before (d3f19f1) and after, alternated; as installed
cd AFTER
for r in 1 2; do for side in base main; do
  src=BEFORE/src; [ $side = main ] && src=AFTER/src
  rm -rf runs/trainab-$side-$r
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=$src python -c "import sys; from mnistnp.cli import main; sys.exit(main())" train --recipe cnn --epochs 2 --run-dir runs/trainab-$side-$r --no-progress > train-$side-$r.txt 2>&1
  echo "$r $side $(grep -E 'trained in|test accuracy' train-$side-$r.txt | tr '\n' ' ')"
done; done
