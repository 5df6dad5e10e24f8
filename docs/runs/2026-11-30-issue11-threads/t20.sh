#!/bin/bash
source /work/venv/bin/activate
cd /work/wt/ab
export PYTHONPATH=/work/wt/ab/src
flock /work/wt/timing.lock env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_THREAD_TIMEOUT=20 python benchmarks/speed.py --cases small-sgd small-adam wide-sgd notebook cnn cnn-latency > /work/runs/ab/timeout20-1.log 2>&1
flock /work/wt/timing.lock env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/speed.py --cases small-sgd small-adam wide-sgd notebook cnn cnn-latency > /work/runs/ab/default-3.log 2>&1
echo done > /work/runs/ab/T20DONE
