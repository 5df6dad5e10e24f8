#!/bin/bash
source /work/venv/bin/activate
cd /work/wt/ab2
export PYTHONPATH=/work/wt/ab2/src
C="small-sgd small-adam wide-sgd notebook latency cnn cnn-latency"
for round in 1 2; do
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_THREAD_TIMEOUT=20 python benchmarks/speed.py --cases $C > /work/runs/ab2/timeout20-$round.log 2>&1
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/speed.py --cases $C > /work/runs/ab2/default-$round.log 2>&1
done
echo done > /work/runs/ab2/DONE
