#!/bin/bash
# Run from the root of the tree measured (SRC: its src folder), in a venv with mnistnp's
# dependencies; OUT is the log folder, LOCK a file that keeps other timed runs out (flock).
: "${SRC:?}" "${OUT:?}" "${LOCK:?}"
export PYTHONPATH=$SRC
while [ ! -f $OUT/DONE ]; do sleep 5; done
flock "$LOCK" env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/profile_cnn.py --net fixed > $OUT/profile-fixed-default.txt 2>&1
flock "$LOCK" env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_THREAD_TIMEOUT=4 python benchmarks/profile_cnn.py --net fixed > $OUT/profile-fixed-timeout4.txt 2>&1
flock "$LOCK" env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_THREAD_TIMEOUT=4 python benchmarks/profile_cnn.py --net recipe > $OUT/profile-recipe-timeout4.txt 2>&1
echo done > $OUT/PROFDONE
