#!/bin/bash
source /work/venv/bin/activate
cd /work/wt/ab
export PYTHONPATH=/work/wt/ab/src
for round in 1 2; do
  flock /work/wt/timing.lock env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/speed.py > /work/runs/ab/default-$round.log 2>&1
  flock /work/wt/timing.lock env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_THREAD_TIMEOUT=4 python benchmarks/speed.py > /work/runs/ab/timeout4-$round.log 2>&1
done
echo done > /work/runs/ab/DONE
