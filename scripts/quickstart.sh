#!/usr/bin/env bash
# The whole loop on a fresh machine, CPU only, about 10 minutes on 2 cores: install into .venv,
# generate the toy dataset, train PP-LiteSeg-T from scratch with VisualDL on, evaluate, predict
# colour overlays, export a deployable model (Paddle + dynamic ONNX) and run it with `paddleseg infer`.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[cpu,test,onnx,openvino]"

paddleseg=.venv/bin/paddleseg
config=configs/toy/pp_liteseg_stdc1_toy_256x128_300.yml
out=output/quickstart
rm -rf "$out"
mkdir -p "$out"

$paddleseg make-toy-data data/toy
$paddleseg train --config "$config" --save_dir "$out/train" --device cpu --seed 0 \
    --do_eval --use_vdl --save_interval 100 --log_iters 20 2>&1 | tee "$out/train.log"
$paddleseg val --config "$config" --device cpu \
    --model_path "$out/train/best_model/model.pdparams" 2>&1 | tee "$out/val.log"
$paddleseg predict --config "$config" --device cpu --image_path data/toy/leftImg8bit/val \
    --model_path "$out/train/best_model/model.pdparams" --save_dir "$out/predict" 2>&1 | tail -n 2
$paddleseg export --config "$config" --model_path "$out/train/best_model/model.pdparams" \
    --save_dir "$out/inference_model" --onnx 2>&1 | tail -n 1
$paddleseg infer --model_dir "$out/inference_model" --image_path data/toy/leftImg8bit/val \
    --save_dir "$out/infer" 2>&1 | tail -n 2

miou=$(grep -o "mIoU: [0-9.]*" "$out/val.log" | tail -n 1)
cat <<SUMMARY

==================== quick start done in $(( $(date +%s) - start )) s ====================
PP-LiteSeg-T on the toy val set: $miou
  checkpoints     $out/train (best: $out/train/best_model/model.pdparams)
  VisualDL log    .venv/bin/visualdl --logdir $out/train
  overlays        $out/predict/added_prediction
  inference model $out/inference_model (deploy.yaml, model.onnx); its output in $out/infer
SUMMARY
