#!/bin/bash
# Run from the root of the tree measured (SRC: its src folder), in a venv with mnistnp's
# dependencies; OUT is the log folder, LOCK a file that keeps other timed runs out (flock).
: "${SRC:?}" "${OUT:?}" "${LOCK:?}"
export PYTHONPATH=$SRC
C="small-sgd small-adam wide-sgd notebook latency cnn cnn-latency"
for run in 1 2; do
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_THREAD_TIMEOUT=20 python benchmarks/speed.py --cases $C > $OUT/timeout20-$run.log 2>&1
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/speed.py --cases $C > $OUT/default-$run.log 2>&1
done
echo done > $OUT/DONE
