"""The reader's device and precision: any spelling of a device torch takes is honoured or refused by name, and
a precision the device cannot compute in is refused (training chooses its own in main.py: utils/device.py)."""
import torch

from inference.reader_args import DEVICES, PRECISIONS
from utils.device import npu_available, amp_dtype, cpu_has_bf16
from utils.errors import UserError, WrongTypeError


def reader_device(spec):
    """The reader's device= (any spelling torch takes: "cuda", "cuda:1", torch.device("cuda")) -> a torch.device
    this machine has. Unlike select_device it sets nothing process-wide (a library does not change its caller's
    current device). Anything else, or a device that is not here, is a UserError naming the value."""
    if isinstance(spec, str) and spec == "auto":
        spec = "npu" if npu_available() else "cuda" if torch.cuda.is_available() else "cpu"
    if not isinstance(spec, (str, torch.device)):
        raise WrongTypeError(f"device must be one of {DEVICES}, got {spec!r:.60} ({type(spec).__name__})")
    if isinstance(spec, str) and spec.partition(":")[0] == "npu" and not npu_available():  # a name torch_npu adds
        raise UserError(f"device {spec!r}: no NPU is visible here (torch_npu is not installed or sees none); use "
                        "device='cpu' or 'auto'")
    try:
        device = torch.device(spec)
    except (RuntimeError, ValueError):
        raise UserError(f"device {spec!r} is not a device name: use {DEVICES}") from None
    if device.type == "cpu":
        return device
    counts = {"cuda": lambda: torch.cuda.device_count() if torch.cuda.is_available() else 0,
              "npu": lambda: torch.npu.device_count() if npu_available() else 0}
    if device.type not in counts:
        raise UserError(f"device {str(spec)!r}: this reader runs on {DEVICES}")
    count = counts[device.type]()
    if not count:
        raise UserError(f"device {str(spec)!r}: no {device.type.upper()} device is visible here (use device='cpu' or "
                        "'auto')")
    if device.index is not None and device.index >= count:
        raise UserError(f"device {str(spec)!r}: only {count} {device.type.upper()} device"
                        f"{'s are' if count > 1 else ' is'} visible (0..{count - 1})")
    return device


def precision_dtype(precision, device):
    """The reader's precision= -> the autocast dtype on `device` (None: fp32): "auto" the fastest the device has,
    "fp32", or "bf16" / "fp16" where the device computes in it; anything else is a UserError naming the value."""
    if precision not in PRECISIONS:
        raise UserError(f"precision {str(precision)[:40]!r} is not one of {', '.join(PRECISIONS)}")
    if precision in ("auto", "fp32"):
        return amp_dtype(device, precision == "auto")
    if precision == "fp16" and device.type == "cpu":
        raise UserError("precision 'fp16' needs a GPU or an NPU; on the CPU use 'auto' (bf16 where the CPU has it) "
                        "or 'fp32'")
    if precision == "bf16" and device.type == "cpu" and not cpu_has_bf16():
        raise UserError("precision 'bf16': this CPU has no native bf16 (AVX512-BF16 or AMX); use 'auto' or 'fp32'")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise UserError(f"precision 'bf16': {torch.cuda.get_device_name(device)} has no bf16; use 'auto' or 'fp16'")
    return torch.bfloat16 if precision == "bf16" else torch.float16
