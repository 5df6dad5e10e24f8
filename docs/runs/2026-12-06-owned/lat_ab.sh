#!/bin/bash
cd AFTER
for r in 1 2; do for side in base main; do
  src=BEFORE/src; [ $side = main ] && src=AFTER/src
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=$src python benchmarks/speed.py --repeats 3 --cases small-sgd latency cnn-latency > lat-$side-$r.txt 2>&1
  echo "== $side $r"; grep -E "^\| (784|one-image|CNN one)" lat-$side-$r.txt | head -3 | cut -d'|' -f2,4,5,6
done; done
