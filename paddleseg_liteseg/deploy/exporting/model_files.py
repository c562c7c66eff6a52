"""What an exported model's directory holds: the file names ``paddleseg export`` writes and the keys
of its ``deploy.yaml``, in one place for every module that reads or writes them.

``deploy.yaml`` is PaddleSeg's format (``Deploy: {model, params, transforms}``); the other keys are
this plugin's, and PaddleSeg's reader ignores them.
"""
DEPLOY_FILE = "deploy.yaml"
DEPLOY_SECTION = "Deploy"
MODEL_PREFIX = "model"
PROGRAM_FILES = ("model.json", "model.pdmodel")  # Paddle 3 (PIR), Paddle 2 / old IR
PARAMS_FILE = "model.pdiparams"
ONNX_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"  # onnxruntime's quantizer, every operator type
CONV_INT8_FILE = "model_int8_conv.onnx"  # onnxruntime's quantizer, convolutions only
NNCF_INT8_FILE = "model_int8_nncf.onnx"  # NNCF's
RECIPE_FILES = {"onnxruntime": INT8_FILE, "onnxruntime_conv": CONV_INT8_FILE, "nncf": NNCF_INT8_FILE}
SEARCH_FILE = "model_int8_search_{runtime}_{recipe}.onnx"  # int8_search's, per runtime and start
TUNING_FILE = "tuning.json"
INPUT_NAME = "x"

MODEL_KEY = "model"
PARAMS_KEY = "params"
TRANSFORMS_KEY = "transforms"
INPUT_SHAPE_KEY = "input_shape"
OUTPUT_OP_KEY = "output_op"
OUTPUT_DTYPE_KEY = "output_dtype"
ONNX_KEY = "onnx"
ONNX_INT8_KEY = "onnx_int8"  # onnxruntime's int8 model
OPENVINO_INT8_KEY = "openvino_int8"  # OpenVINO's int8 model
INT8_SCORES_KEY = "int8_calibration"  # {runtime: {file: agreement with fp32 and ms}}, fp32's file too (int8_scores)
INT8_SEARCH_KEY = "int8_search"  # {runtime: {recipe: int8_search.SearchResult's fields}}, where searches ran
SLIDE_KEY = "slide"  # {crop_size: [W, H], stride: [W, H]}: the config's test_config slides (sliding_window)
PALETTE_KEY = "palette"
CLASS_NAMES_KEY = "class_names"
REQUIRED_KEYS = (MODEL_KEY, PARAMS_KEY, TRANSFORMS_KEY)
DEVICE_INPUT_KEY = "device_input"  # what a device does to an image before the files below (device_files.DeviceInput)
DEVICE_MODELS_KEY = "device_models"  # [device_files.DeviceFile's fields], the NCNN and TFLite files
