#!/usr/bin/env bash
# Paired before/after of the speed table: 4115851 (before the layer protocol, the optimizer
# registry and the nested config) and main, alternated. BEFORE and MAIN are the two checkouts
# (`git archive REV | tar -x -C DIR`), OUT the log folder; run in a venv with mnistnp's
# dependencies and torch==2.13.0. ARGS are passed to speed.py (default: --quick).
: "${BEFORE:?}" "${MAIN:?}" "${OUT:?}"
for run in ${RUNS:-1 2}; do
  for side in before main; do
    dir=$BEFORE; [ $side = main ] && dir=$MAIN
    cd "$dir"
    echo "== run $run $side $(date +%T) $(cat /proc/loadavg)"
    # shellcheck disable=SC2086
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH="$dir/src" python benchmarks/speed.py \
      ${ARGS:---quick} > "$OUT/$side-$run.log" 2>&1
    echo "   done $(date +%T)"
  done
done
