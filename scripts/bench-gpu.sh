#!/usr/bin/env bash
# The BENCHMARKS.md rows of issue 12 on one NVIDIA GPU, as JSON lines (one `neurogen bench --json`
# row each, with a "label"), so that a run of the whole table is one command:
#   scripts/bench-gpu.sh OUT.jsonl [quick|full|event]
# NEUROGEN names the binary (default target/release/neurogen). quick: small generate/train at
# B = 1 and 32, seed generate B = 1 and 32, f32 and bf16, cuBLAS TF32 (the default) and off (the
# op table's own GEMM kernels). full adds the batch
# sweep (1, 8, 32, 128, 256), seed training B = 1/32/128, a model larger than seed, per-kernel
# profiles of the seed rows, the small training rows and the wgpu rows. A row that fails is recorded as null with its error
# in OUT.jsonl.err; the script goes on. event: event-driven propagation against gathering, B = 1–32.
set -uo pipefail
out=${1:?usage: scripts/bench-gpu.sh OUT.jsonl [quick|full|event]}
mode=${2:-quick}
bin=${NEUROGEN:-target/release/neurogen}
: > "$out"
row() { # label, env (k=v or -), arguments...
  local label=$1 env=$2; shift 2
  local line
  if [ "$env" = - ]; then line=$("$bin" "$@" 2>>"$out.err" | tail -1)
  else line=$(env "$env" "$bin" "$@" 2>>"$out.err" | tail -1); fi
  case $line in "{"*) ;; *) line=null ;; esac
  printf '{"label":"%s","row":%s}\n' "$label" "$line" >> "$out"
  echo "$label: $(printf '%s' "$line" | head -c 160)" >&2
}
gen() { row "$1" "$2" --backend "${3}" --preset "$4" ${5:+--vocab $5} --precision "$6" bench --json --repeat 2 --tokens "$7" --batch "$8" ${9:-}; }
train() { row "$1" "$2" --backend "${3}" --preset "$4" ${5:+--vocab $5} --precision "$6" bench --train --json --repeat "${9:-2}" --tokens 128 --batch "$7" ${8:-}; }

if [ "$mode" = event ]; then
  # Event-driven propagation against gathering (docs/model.md §3.4: the same bits either way), to
  # choose LaunchShapes::event_max_batch per backend: NEUROGEN_EVENT_MAX_BATCH=0 always gathers.
  for ev in 0 32; do
    e=NEUROGEN_EVENT_MAX_BATCH=$ev
    for b in 1 2 4 8 16 32; do
      gen "small generate B$b f32 event<=$ev" $e cuda small "" f32 256 $b
      train "small train B$b f32 event<=$ev" $e cuda small "" f32 $b
      gen "seed generate B$b f32 event<=$ev" $e cuda seed 32000 f32 32 $b
      gen "tiny generate B$b f32 event<=$ev" $e cuda tiny "" f32 256 $b
    done
    train "seed train B1 f32 event<=$ev" $e cuda seed 32000 f32 1 "" 1
    gen "seed generate B1 f32 event<=$ev profile" $e cuda seed 32000 f32 32 1 --profile
    for b in 1 4 32; do gen "small generate B$b f32 wgpu event<=$ev" $e wgpu small "" f32 256 $b; done
  done
  exit 0
fi

for p in f32 bf16; do
  for gemm in off tf32; do
    e=-; [ $gemm = off ] && e=NEUROGEN_CUBLAS=off
    for b in 1 32; do
      gen "small generate B$b $p cublas=$gemm" $e cuda small "" $p 256 $b
      train "small train B$b $p cublas=$gemm" $e cuda small "" $p $b
      gen "seed generate B$b $p cublas=$gemm" $e cuda seed 32000 $p 32 $b
    done
  done
done
[ "$mode" = full ] || exit 0

for b in 1 8 32 128 256; do
  gen "small generate B$b f32" - cuda small "" f32 256 $b
  train "small train B$b f32" - cuda small "" f32 $b
  gen "tiny generate B$b f32" - cuda tiny "" f32 256 $b
done
for b in 1 32 128; do
  for gemm in off tf32; do
    e=-; [ $gemm = off ] && e=NEUROGEN_CUBLAS=off
    train "seed train B$b f32 cublas=$gemm" $e cuda seed 32000 f32 $b "" 1
  done
  gen "seed generate B$b f32 profile" - cuda seed 32000 f32 32 $b --profile
done
train "seed train B32 f32 profile" - cuda seed 32000 f32 32 --profile 1
# Larger than seed: every module but the Thalamus and the basal ganglia doubled (2.26 M neurons,
# 235 M recurrent synapses; about 15 GB on the device at batch 1).
big=(--set modules.1.n=614400 --set modules.2.n=307200 --set modules.3.n=614400 --set modules.5.n=614400)
row "seed x2 generate B1 f32" - --backend cuda --preset seed --vocab 32000 "${big[@]}" bench --json --repeat 2 --tokens 32 --batch 1
row "seed x2 generate B32 f32" - --backend cuda --preset seed --vocab 32000 "${big[@]}" bench --json --repeat 2 --tokens 32 --batch 32
row "seed x2 train B32 f32" - --backend cuda --preset seed --vocab 32000 "${big[@]}" bench --train --json --repeat 1 --tokens 128 --batch 32
for b in 1 32; do
  gen "small generate B$b f32 wgpu" - wgpu small "" f32 256 $b
  train "small train B$b f32 wgpu" - wgpu small "" f32 $b
  gen "seed generate B$b f32 wgpu" - wgpu seed 32000 f32 32 $b
done
# Where wgpu's time goes (timestamp queries around each dispatch), and the small training rows'.
gen "small generate B32 f32 wgpu profile" - wgpu small "" f32 256 32 --profile
train "small train B32 f32 wgpu profile" - wgpu small "" f32 32 --profile
train "small train B32 f32 profile" - cuda small "" f32 32 --profile
