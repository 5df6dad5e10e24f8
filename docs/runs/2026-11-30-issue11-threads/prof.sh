#!/bin/bash
source /work/venv/bin/activate
cd /work/wt/ab
export PYTHONPATH=/work/wt/ab/src
while [ ! -f /work/runs/ab/DONE ]; do sleep 5; done
flock /work/wt/timing.lock env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/profile_cnn.py --net fixed > /work/runs/ab/profile-fixed-default.txt 2>&1
flock /work/wt/timing.lock env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_THREAD_TIMEOUT=4 python benchmarks/profile_cnn.py --net fixed > /work/runs/ab/profile-fixed-timeout4.txt 2>&1
flock /work/wt/timing.lock env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_THREAD_TIMEOUT=4 python benchmarks/profile_cnn.py --net recipe > /work/runs/ab/profile-recipe-timeout4.txt 2>&1
echo done > /work/runs/ab/PROFDONE
