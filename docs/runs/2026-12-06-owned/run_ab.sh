#!/bin/bash
# the speed table on both trees in turn: base (d3f19f1) and the new tree; the benchmark code is the new one's
cd AFTER
for r in 1 2; do for side in base main; do
  src=BEFORE/src; [ $side = main ] && src=AFTER/src
  echo "=== run $r $side ($src) $(date +%T)"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=$src python benchmarks/speed.py --repeats 3 --cases small-sgd small-adam latency cnn cnn-recipe cnn-latency > speed-$side-$r.txt 2>&1
  grep -E "^\| |PASS|MISS" speed-$side-$r.txt | head -20
done; done
