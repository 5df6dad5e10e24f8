#!/bin/bash
# Run from the root of the tree measured (SRC: its src folder), in a venv with mnistnp's
# dependencies; OUT is the log folder, LOCK a file that keeps other timed runs out (flock).
: "${SRC:?}" "${OUT:?}" "${LOCK:?}"
export PYTHONPATH=$SRC
flock "$LOCK" env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_THREAD_TIMEOUT=20 python benchmarks/speed.py --cases small-sgd small-adam wide-sgd notebook cnn cnn-latency > $OUT/timeout20-1.log 2>&1
flock "$LOCK" env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/speed.py --cases small-sgd small-adam wide-sgd notebook cnn cnn-latency > $OUT/default-3.log 2>&1
echo done > $OUT/T20DONE
