#!/usr/bin/env bash
# Paired before/after of the speed table: 40ccca2 (before the re-laid core and loop) and main
# (0eef1e0), alternated. BEFORE and MAIN are the two checkouts, OUT the log folder; run in a venv
# with mnistnp's dependencies. A running cnn_search.py is paused meanwhile.
: "${BEFORE:?}" "${MAIN:?}" "${OUT:?}"
pids=$(pgrep -f cnn_search.py)
echo "pausing $pids"; [ -n "$pids" ] && kill -STOP $pids
trap '[ -n "$pids" ] && kill -CONT $pids' EXIT
for run in ${RUNS:-1 2}; do
  for side in before main; do
    dir=$BEFORE; [ $side = main ] && dir=$MAIN
    cd $dir
    echo "== run $run $side $(git rev-parse --short HEAD) $(date +%T) $(cat /proc/loadavg)"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=$dir/src python benchmarks/speed.py \
      > "$OUT/$side-$run.log" 2>&1
    echo "   done $(date +%T)"
  done
done
