#!/usr/bin/env bash
# Paired before/after of the speed table: 40ccca2 (before issue 10) and main, alternated.
source /work/venv/bin/activate
pids=$(pgrep -f cnn_search.py)
echo "pausing $pids"; [ -n "$pids" ] && kill -STOP $pids
trap '[ -n "$pids" ] && kill -CONT $pids' EXIT
for round in ${ROUNDS:-1 2}; do
  for side in before main; do
    dir=/work/wt/$side; [ $side = main ] && dir=/work/main
    cd $dir
    echo "== round $round $side $(git rev-parse --short HEAD) $(date +%T) $(cat /proc/loadavg)"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=$dir/src python benchmarks/speed.py \
      > /work/notes/speed/$side-$round.log 2>&1
    echo "   done $(date +%T)"
  done
done
